import type { Scope } from '../keys.js'
import type { ReadOperation, ScopeRef } from '../operations.js'
import type { Schema } from '../schema.js'
import type { CounterName, Counters } from '../stats.js'
import type { SafeKV } from '../store.js'
import { bulkStamp, documentStamp, pinnedID, stampKind, versionsBulkStamp } from './documents.js'
import type { ListFallbackReason } from './lists.js'
import { completeAnswer, isPreciseList, LIST_OPERATIONS, memberRoom, planList, planVersions, VERSION_READS } from './lists.js'
import type { KnownMembers } from './members.js'
import { ListMembers } from './members.js'
import type { Purger } from './purge.js'
import type { StampWritesOptions } from './stamp-writes.js'
import { StampWrites } from './stamp-writes.js'
import type { StampScope, Stamps } from './stamps.js'
import { tokenTime } from './stamp-tokens.js'
import type { StrongStamps } from './strong-stamps.js'
import type { Args, FillDecision, InvalidationStrategy, Judgement, ReadTicket, WriteScopes } from './strategy.js'

/** A stamp strategy read: a precise `find` also carries what it needs to check its members (members.ts). */
interface StampTicket extends ReadTicket {
  /** A strong read: when its newest Durable Object token was written, once known (the read-replica window). */
  strongWrittenAt?: number
  /** The dependencies' slot keys: what the signature is made of. `keys` adds the known members'. */
  readonly stampKeys: readonly string[]
  readonly list?: {
    readonly key: string
    readonly scope: Scope
    readonly known: KnownMembers | undefined
    readonly maxMembers: number
    /** Before the lookup, so before the query: the member race's reference time. */
    readonly startedAt: number
    /** A list that sorts on fields it does not filter on: what a complete answer depends on instead. */
    readonly narrow?: { readonly keys: readonly string[]; readonly args: Args }
  }
  /** The narrow dependencies' signature, read with the lookup (before the query). */
  narrowSignature?: string
  /** The lookup found an entry, stale or expired: its answer changes, so a count may pay for itself. */
  replacing?: boolean
}

/**
 * A complete answer's entry (lists.ts, `completeAnswer`): its signature leads with this mark
 * and covers the narrow dependencies only, so that no full signature is ever taken for it.
 */
const COMPLETE_MARK = '~'

export interface StampStrategyOptions extends StampWritesOptions {
  stamps: Stamps
  /** The Durable Object client, with `strongStamps` (strong-stamps.ts). */
  strongStamps?: StrongStamps
  purger: Purger
  kv: SafeKV
  clock: () => number
  prefix: string
  /** How many documents match a `where`, asked of the database itself; undefined when it cannot say. */
  countMatches: (collection: string, args: Args) => Promise<number | undefined>
}

/** The newest write time among a strong read's tokens (`scope=<time>-<random>,...`; '' for a scope never bumped). */
function newestTokenTime(tokens: string): number {
  let newest = -Infinity
  for (const part of tokens.split(',')) newest = Math.max(newest, tokenTime(part.slice(part.lastIndexOf('=') + 1)))
  return newest
}

const FALLBACK_COUNTERS: Readonly<Record<ListFallbackReason, CounterName>> = {
  traversal: 'listFallbacksTraversal',
  field: 'listFallbacksField',
  pageSize: 'listFallbacksPageSize',
  versions: 'listFallbacksVersions',
}

/**
 * The default strategy: an entry is valid while the stamps it was filled under are current
 * (stamps.ts). With `documentStamps` a read pinned to one id depends on its document's stamp
 * and the collection's bulk stamp rather than on every write to the collection
 * (documents.ts); with `listPrecision` too, a list of the collection's own rows depends on
 * membership, the fields it filters and sorts on, and its members' stamps (lists.ts,
 * members.ts).
 */
export class StampStrategy implements InvalidationStrategy<StampTicket> {
  readonly kind = 'stamp'
  readonly strong: boolean
  private readonly strongStamps: StrongStamps | undefined
  private readonly stamps: Stamps
  private readonly purger: Purger
  private readonly schema: () => Schema
  private readonly counters: Counters
  private readonly clock: () => number
  private readonly prefix: string
  private readonly documentStamps: boolean
  private readonly listPrecision: boolean
  private readonly members: ListMembers
  private readonly writes: StampWrites
  private readonly countMatches: StampStrategyOptions['countMatches']
  /** A precise `find`'s sort-only field stamps and arguments, by the dependencies `dependencies` returned. */
  private readonly narrowable = new WeakMap<readonly Scope[], { sortOnly: readonly Scope[]; args: Args }>()

  constructor(options: StampStrategyOptions) {
    this.stamps = options.stamps
    this.strongStamps = options.strongStamps
    this.strong = options.strongStamps !== undefined
    this.purger = options.purger
    this.schema = options.schema
    this.counters = options.counters
    this.clock = options.clock
    this.prefix = options.prefix
    this.documentStamps = options.documentStamps
    this.listPrecision = options.documentStamps && options.listPrecision
    this.countMatches = options.countMatches
    this.writes = new StampWrites({
      schema: options.schema,
      counters: options.counters,
      documentStamps: options.documentStamps,
      listPrecision: options.listPrecision,
    })
    this.members = new ListMembers(options.kv, this.stamps.reads, options.prefix, options.schema, (scopes) =>
      this.stamps.isUnsettled(scopes),
    )
  }

  /**
   * A `findOne` pinned to one id that follows no relationship or join reads one row: it
   * depends on that document's stamp and the collection's bulk stamp. A read of the versions
   * table pinned to parents depends on their versions stamps and the versions bulk stamp. A
   * list of the collection's own rows depends on what lists.ts names.
   */
  dependencies(operation: ReadOperation, ref: ScopeRef, scope: Scope, args: Args, strong: boolean): Scope[] {
    const { paths } = this.schema()
    // A strong read's stamps are its collections' and globals' (one Durable Object each):
    // no document, field or member stamps, so no member race to close there.
    if (strong || ref.kind !== 'collection' || !this.documentStamps) return paths.dependenciesOfCall(operation, scope, args)
    if (operation === 'findOne') {
      const { scopes, ownRowsOnly } = paths.traversal(operation, scope, args)
      const id = ownRowsOnly ? this.schema().canonicalID(scope, pinnedID(args.where)) : undefined
      return id === undefined ? scopes : [bulkStamp(scope), documentStamp(scope, id)]
    }
    if (VERSION_READS.has(operation)) {
      // Pinned to parents, and reading no other rows (no relationship or join followed, not
      // even into the collection's own main table through `parent.title`): those documents'
      // versions stamps (lists.ts, `planVersions`), whatever list precision says.
      const { scopes, ownRowsOnly } = paths.traversal(operation, scope, args)
      const schema = this.schema()
      const versions = ownRowsOnly ? planVersions(scope, args.where, (id) => schema.canonicalID(scope, id)) : undefined
      if (versions) {
        this.counters.count('versionsPrecise', scope, operation)
        return versions
      }
      if (operation !== 'queryDrafts') return scopes
    }
    if (!this.listPrecision || !LIST_OPERATIONS.has(operation)) return paths.dependenciesOfCall(operation, scope, args)
    const traversal = paths.traversal(operation, scope, args)
    const schema = this.schema()
    const plan = planList(operation, scope, args, traversal, paths.hasStoredField(scope, 'createdAt'), schema.partitions, (id) =>
      schema.canonicalID(scope, id),
    )
    if ('fallback' in plan) {
      this.counters.count(FALLBACK_COUNTERS[plan.fallback], scope, operation)
      return traversal.scopes
    }
    this.counters.count('listsPrecise', scope, operation)
    if (plan.byValue) this.counters.count('listsByValue', scope, operation)
    if (plan.pinned) this.counters.count('listsPinned', scope, operation)
    if (plan.sortOnly.length > 0) this.narrowable.set(plan.scopes, { sortOnly: plan.sortOnly, args })
    return plan.scopes
  }

  unsettled(dependencies: readonly Scope[]): boolean {
    return this.stamps.isUnsettled(dependencies)
  }

  beginRead(operation: ReadOperation, scope: Scope, dependencies: readonly Scope[], key: string, strong: boolean): StampTicket {
    const stampKeys = this.stamps.reads.keysFor(dependencies)
    if (strong && this.strongStamps) {
      // Asked now, answered beside the KV lookup. No object for `*`: a flush bumps every
      // scope's object instead (wholeScopes), so no one object is asked by every strong read.
      return { dependencies, keys: stampKeys, stampKeys, epoch: 0, strong: this.strongStamps.read(dependencies) }
    }
    // Only a precise `find` has members.
    if (operation !== 'find' || !this.listPrecision || !isPreciseList(scope, dependencies))
      return { dependencies, keys: stampKeys, stampKeys, epoch: 0 }
    const known = this.members.known(key)
    const narrowable = this.narrowable.get(dependencies)
    const narrow = narrowable && {
      keys: this.stamps.reads.keysFor(dependencies.filter((scope) => !narrowable.sortOnly.includes(scope))),
      args: narrowable.args,
    }
    return {
      dependencies,
      keys: known ? [...stampKeys, ...known.keys] : stampKeys,
      stampKeys,
      epoch: 0,
      flight: this.writes.flight(scope),
      list: { key, scope, known, maxMembers: memberRoom(stampKeys.length), startedAt: this.clock(), narrow },
    }
  }

  judge(ticket: StampTicket, values: Map<string, string | null>): Judgement | Promise<Judgement> {
    const judgement = this.judgeKV(ticket, values)
    if (!ticket.strong) return judgement
    // Both must be current: the KV stamps keep a strong read no worse than an eventual one
    // should a Durable Object bump have been given up on (strong-stamps.ts).
    return ticket.strong.then((tokens): Judgement => {
      if (tokens === undefined) return { bypass: 'strong' }
      ticket.strongWrittenAt = newestTokenTime(tokens)
      return 'bypass' in judgement ? judgement : { signature: `${judgement.signature}|${tokens}` }
    })
  }

  private judgeKV(ticket: StampTicket, values: Map<string, string | null>): Judgement {
    if (this.stamps.reads.contradictsRecentWrites(ticket.keys, values)) return { bypass: 'pending' }
    if (this.stamps.reads.burstOpen(ticket.keys, values)) return { bypass: 'burst' }
    // Read before the database call: a fill that races a write lands under the old tokens.
    const { list } = ticket
    if (list?.narrow) {
      ticket.narrowSignature = COMPLETE_MARK + this.stamps.reads.signature(list.narrow.keys, values)
      ticket.replacing = values.get(list.key) != null
    }
    return { signature: this.stamps.reads.signature(ticket.stampKeys, values) }
  }

  serves(
    entry: { stamps: string },
    signature: string,
    ticket: StampTicket,
    values: Map<string, string | null>,
  ): boolean | Promise<boolean> {
    const { list } = ticket
    if (!list) return entry.stamps === signature
    // A complete answer's entry is checked against the narrow stamps; any other against all.
    const expected = entry.stamps.startsWith(COMPLETE_MARK) ? ticket.narrowSignature : signature
    if (expected === undefined) return false
    return this.members.verify(list.key, list.scope, entry.stamps, expected, list.known, values)
  }

  fill(ticket: StampTicket, signature: string, result: unknown): FillDecision | Promise<FillDecision> {
    const { list } = ticket
    if (!list) return { signature }
    const { narrow } = list
    const narrowSignature = ticket.narrowSignature
    if (!narrow || narrowSignature === undefined)
      return this.members.fill(list.key, list.scope, signature, result, list.maxMembers, list.startedAt)
    return this.completeSignature(list.scope, narrow.args, result, ticket.replacing === true).then((complete) => {
      if (complete) this.counters.count('listsComplete', list.scope, 'find')
      return this.members.fill(list.key, list.scope, complete ? narrowSignature : signature, result, list.maxMembers, list.startedAt)
    })
  }

  /**
   * Whether a `find`'s answer holds every match (lists.ts, `completeAnswer`), asking the
   * database for the count when the answer cannot say: after the query, so a document that
   * began to match in between either counts (no longer complete) or bumped a stamp the
   * narrow signature, read before the query, holds. Only when the entry it replaces went stale
   * or expired (`replacing`): a count is a database read, which a first fill (most of them,
   * BENCHMARKS.md 1c) would pay for hits it may never have.
   */
  private async completeSignature(scope: Scope, args: Args, result: unknown, replacing: boolean): Promise<boolean> {
    const complete = completeAnswer(args, result)
    if (complete !== 'count') return complete
    if (!replacing) return false
    try {
      const matches = await this.countMatches(scope.slice(2), args)
      return matches !== undefined && completeAnswer(args, result, matches) === true
    } catch {
      return false
    }
  }

  youngestWrite(ticket: StampTicket, values: Map<string, string | null>): number {
    // A strong read in another location may see KV's stamps up to 30 s old: the object's
    // token says when the write it follows was made, for the read-replica window.
    return Math.max(this.stamps.reads.youngestWrite(ticket.keys, values), ticket.strongWrittenAt ?? -Infinity)
  }

  trackFill(): void {}

  writeScopes(operation: string, own: Scope | undefined, affected: StampScope[], args: Args): WriteScopes {
    return this.writes.scopes(operation, own, affected, args)
  }

  /**
   * Changes made outside Payload name no documents: every document read goes too, and every
   * versions read, whatever this deploy's `documentStamps` (another deploy sharing the KV may
   * read by document).
   */
  expandInvalidation(scopes: StampScope[]): StampScope[] {
    const out = [...scopes]
    const schema = this.schema()
    for (const scope of scopes) {
      if (scope === '*' || !scope.startsWith('c:') || scope.includes('#')) continue
      out.push(bulkStamp(scope))
      if (schema.hasVersions(scope)) out.push(versionsBulkStamp(scope))
    }
    return out
  }

  /**
   * The collections and globals among stamps: what the Durable Objects keep (strong reads
   * depend on nothing finer). `*` (a flush, `invalidateAll()`) is every one of them: a rare
   * write pays a call per scope so that no strong read has to ask a shared object.
   */
  private wholeScopes(scopes: readonly StampScope[]): StampScope[] {
    if (scopes.includes('*')) return [...this.schema().policy.scopes]
    return scopes.filter((scope) => stampKind(scope) === 'collection')
  }

  hold(scopes: Iterable<StampScope>): () => void {
    return this.stamps.hold(scopes)
  }

  /** A write to these scopes starts: running updates of its documents overlap it. */
  writeStarted(scopes: readonly StampScope[]): void {
    this.writes.seen(scopes)
  }

  async invalidateAfterWrite(scopes: readonly StampScope[], release: () => void): Promise<void> {
    try {
      await Promise.all([this.stamps.bump(scopes), this.strongStamps?.bump(this.wholeScopes(scopes))])
    } finally {
      // Landed (a commit comes this way too): updates of its documents that began before are
      // compared with a row this write may have changed since.
      this.writes.seen(scopes)
      release()
    }
  }

  async invalidate(scopes: readonly StampScope[]): Promise<void> {
    await Promise.all([this.stamps.bumpAndWait(scopes), this.strongStamps?.bump(this.wholeScopes(scopes))])
  }

  /** Frees KV storage; the caller has bumped the stamps first, so an entry the listing misses is dead anyway. */
  async purge(scopes: readonly StampScope[]): Promise<void> {
    await (
      await this.purger.purge(this.schema().prefixesFor(this.prefix, scopes))
    ).done
  }

  footprint(): Record<string, number> {
    return { ...this.stamps.footprint(), listMembers: this.members.size, overlappingUpdates: this.writes.size }
  }

  configure(): void {
    this.stamps.reads.forgetDependencies()
  }
}
