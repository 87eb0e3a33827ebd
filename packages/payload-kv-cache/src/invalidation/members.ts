import type { Scope } from '../keys.js'
import type { Schema } from '../schema.js'
import type { SafeKV } from '../store.js'
import type { DocumentID } from './documents.js'
import { documentStamp } from './documents.js'
import type { StampReads } from './stamp-reads.js'
import { slotKeys } from './stamp-tokens.js'
import type { FillDecision } from './strategy.js'

/*
 * The content half of list precision (lists.ts): a `find` entry is valid only while the
 * document stamps of the documents it returned are current. Which documents those are is
 * known only once the query has answered, so the entry stores them beside its stamps:
 * `<membership signature>|<members' signature>|<ids as JSON>` (neither signature holds `|`).
 *
 * A hit must stay one bulk `get`: this isolate remembers, per entry key, the members it last
 * saw there, and fetches their stamps with the entry. Only the first hit of an entry in an
 * isolate (or one whose members changed) costs a second `get`.
 *
 * The member race (ARCHITECTURE.md, Invariants): the members' stamps are read after the
 * query, so a write to a member that committed after the query read it may already have put
 * its new token. Filled under that token, the old row would be served as current. Every
 * token carries the time it was written, after its write committed: a member token written
 * after the query began (by another isolate: less the clock skew two isolates may have)
 * means no fill.
 */

/** Entry keys whose members this isolate remembers. */
const MAX_REMEMBERED = 1000

export interface KnownMembers {
  /** The ids as the entry spells them (JSON). */
  readonly text: string
  readonly scopes: readonly Scope[]
  /** Their stamps' slot keys, in the order the signature takes them. */
  readonly keys: readonly string[]
}

export class ListMembers {
  private readonly remembered = new Map<string, KnownMembers>()

  constructor(
    private readonly kv: SafeKV,
    private readonly reads: StampReads,
    private readonly prefix: string,
    private readonly schema: () => Schema,
    private readonly unsettled: (scopes: readonly Scope[]) => boolean,
  ) {}

  get size(): number {
    return this.remembered.size
  }

  /** The members this isolate last saw in the entry at `key`. */
  known(key: string): KnownMembers | undefined {
    return this.remembered.get(key)
  }

  /**
   * Whether an entry stored under `stored` is current: its membership part equals
   * `signature` (what the lookup read) and its members' stamps are those it was filled
   * under. `values` holds the known members' slots when the lookup fetched them.
   */
  async verify(
    key: string,
    scope: Scope,
    stored: string,
    signature: string,
    known: KnownMembers | undefined,
    values: Map<string, string | null>,
  ): Promise<boolean> {
    if (!stored.startsWith(signature) || stored.charCodeAt(signature.length) !== 124 /* | */) return false
    const rest = stored.slice(signature.length + 1)
    const bar = rest.indexOf('|')
    if (bar < 0) return false
    const memberSignature = rest.slice(0, bar)
    const text = rest.slice(bar + 1)
    let members = known
    let memberValues = values
    if (members?.text !== text) {
      members = this.parse(scope, text)
      if (!members) return false
      const fetched = await this.kv.getEntries(members.keys)
      if (typeof fetched === 'string') return false
      if (this.reads.contradictsRecentWrites(members.keys, fetched) || this.reads.burstOpen(members.keys, fetched)) return false
      memberValues = fetched
      this.remember(key, members)
    }
    if (this.unsettled(members.scopes)) return false
    return this.reads.signature(members.keys, memberValues) === memberSignature
  }

  /**
   * What a `find` result may be stored under: the membership signature read before the
   * query, then its members' stamps read now, unless one was written since the query began.
   */
  async fill(
    key: string,
    scope: Scope,
    signature: string,
    result: unknown,
    maxMembers: number,
    queryStartedAt: number,
  ): Promise<FillDecision> {
    const docs = (result as { docs?: unknown } | null)?.docs
    if (!Array.isArray(docs) || docs.length > maxMembers) return { skip: 'members' }
    const ids: DocumentID[] = []
    const schema = this.schema()
    for (const doc of docs) {
      const id = schema.canonicalID(scope, (doc as { id?: DocumentID } | null)?.id)
      if (id === undefined) return { skip: 'members' }
      ids.push(id)
    }
    const members = this.describe(scope, ids, JSON.stringify(ids))
    if (this.unsettled(members.scopes)) return { skip: 'race' }
    let memberValues = new Map<string, string | null>()
    if (members.keys.length > 0) {
      const fetched = await this.kv.getEntries(members.keys)
      if (typeof fetched === 'string') return { skip: 'members' }
      memberValues = fetched
    }
    if (this.reads.contradictsRecentWrites(members.keys, memberValues) || this.reads.burstOpen(members.keys, memberValues))
      return { skip: 'race' }
    if (this.reads.writtenSince(members.keys, memberValues, queryStartedAt)) return { skip: 'race' }
    this.remember(key, members)
    return {
      signature: `${signature}|${this.reads.signature(members.keys, memberValues)}|${members.text}`,
      youngestWrite: this.reads.youngestWrite(members.keys, memberValues),
    }
  }

  private parse(scope: Scope, text: string): KnownMembers | undefined {
    let ids: unknown
    try {
      ids = JSON.parse(text)
    } catch {
      return undefined
    }
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string' || typeof id === 'number')) return undefined
    return this.describe(scope, ids, text)
  }

  private describe(scope: Scope, ids: readonly DocumentID[], text: string): KnownMembers {
    const scopes = ids.map((id) => documentStamp(scope, id))
    return { text, scopes, keys: scopes.flatMap((stamp) => slotKeys(this.prefix, stamp)) }
  }

  private remember(key: string, members: KnownMembers): void {
    this.remembered.delete(key)
    this.remembered.set(key, members)
    // Oldest first: the map stays bounded.
    for (const old of this.remembered.keys()) {
      if (this.remembered.size <= MAX_REMEMBERED) break
      this.remembered.delete(old)
    }
  }
}
