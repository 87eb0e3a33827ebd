import type { Scope } from '../keys.js'
import type { ReadOperation, ScopeRef } from '../operations.js'
import { DELETE_OPERATIONS } from '../operations.js'
import type { Schema } from '../schema.js'
import type { Counters, CounterName } from '../stats.js'
import type { SafeKV } from '../store.js'
import type { DocumentID } from './documents.js'
import {
  bulkStamp,
  documentStamp,
  ownerOfStamp,
  idOfWriteArgs,
  idOfWriteResult,
  membershipStamp,
  pinnedID,
  SINGLE_DOCUMENT_WRITES,
  VERSION_WRITES,
  fieldStamp,
} from './documents.js'
import type { ListFallbackReason } from './lists.js'
import { changedFields, MAX_FIELD_BUMPS, memberRoom, OverlappingUpdates, planList } from './lists.js'
import type { KnownMembers } from './members.js'
import { ListMembers } from './members.js'
import type { Purger } from './purge.js'
import type { StampScope, Stamps } from './stamps.js'
import type { Args, FillDecision, InvalidationStrategy, Judgement, ReadTicket, WriteScopes } from './strategy.js'

/** A stamp strategy read: a precise `find` also carries what it needs to check its members (members.ts). */
interface StampTicket extends ReadTicket {
  /** The dependencies' slot keys: what the signature is made of. `keys` adds the known members'. */
  readonly stampKeys: readonly string[]
  readonly list?: {
    readonly key: string
    readonly scope: Scope
    readonly known: KnownMembers | undefined
    readonly maxMembers: number
    /** Before the lookup, so before the query: the member race's reference time. */
    readonly startedAt: number
  }
}

export interface StampStrategyOptions {
  stamps: Stamps
  purger: Purger
  schema: () => Schema
  kv: SafeKV
  counters: Counters
  clock: () => number
  prefix: string
  documentStamps: boolean
  listPrecision: boolean
  /** Reads a row as the database has it, within the write's transaction (`req`): the before image. */
  readRow: (slug: string, id: DocumentID, req: unknown) => Promise<unknown>
  /** Locks the row in the write's transaction where the database needs it; false if it could not. */
  lockRow: (slug: string, id: DocumentID, req: unknown) => Promise<boolean>
}

function hasKeys(value: unknown): boolean {
  return value !== null && typeof value === 'object' && Object.keys(value).length > 0
}

const FALLBACK_COUNTERS: Readonly<Record<ListFallbackReason, CounterName>> = {
  traversal: 'listFallbacksTraversal',
  field: 'listFallbacksField',
  pageSize: 'listFallbacksPageSize',
  versions: 'listFallbacksVersions',
}

/** Reads that list a collection: precise or counted as a fallback. */
const LIST_READS: ReadonlySet<string> = new Set(['find', 'count', 'findDistinct', 'queryDrafts'])

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
  private readonly stamps: Stamps
  private readonly purger: Purger
  private readonly schema: () => Schema
  private readonly counters: Counters
  private readonly clock: () => number
  private readonly prefix: string
  private readonly documentStamps: boolean
  private readonly listPrecision: boolean
  private readonly readRow: StampStrategyOptions['readRow']
  private readonly lockRow: StampStrategyOptions['lockRow']
  private readonly members: ListMembers
  private readonly overlaps = new OverlappingUpdates()
  /** Writes that changed documents, by collection (`*`: a flush): what a precise `find`'s flight key carries. */
  private readonly documentWrites = new Map<string, number>()

  constructor(options: StampStrategyOptions) {
    this.stamps = options.stamps
    this.purger = options.purger
    this.schema = options.schema
    this.counters = options.counters
    this.clock = options.clock
    this.prefix = options.prefix
    this.documentStamps = options.documentStamps
    this.listPrecision = options.documentStamps && options.listPrecision
    this.readRow = options.readRow
    this.lockRow = options.lockRow
    this.members = new ListMembers(options.kv, this.stamps.reads, options.prefix, options.schema, (scopes) =>
      this.stamps.isUnsettled(scopes),
    )
  }

  /**
   * A `findOne` pinned to one id that follows no relationship or join reads one row: it
   * depends on that document's stamp and the collection's bulk stamp. A list of the
   * collection's own rows depends on what lists.ts names.
   */
  dependencies(operation: ReadOperation, ref: ScopeRef, scope: Scope, args: Args): Scope[] {
    const { paths } = this.schema()
    if (ref.kind !== 'collection' || !this.documentStamps) return paths.dependenciesOfCall(operation, scope, args)
    if (operation === 'findOne') {
      const { scopes, ownRowsOnly } = paths.traversal(operation, scope, args)
      const id = ownRowsOnly ? this.schema().canonicalID(scope, pinnedID(args.where)) : undefined
      return id === undefined ? scopes : [bulkStamp(scope), documentStamp(scope, id)]
    }
    if (!this.listPrecision || !LIST_READS.has(operation)) return paths.dependenciesOfCall(operation, scope, args)
    const traversal = paths.traversal(operation, scope, args)
    const plan = planList(operation, scope, args, traversal, paths.hasStoredField(scope, 'createdAt'))
    if ('fallback' in plan) {
      this.counters.count(FALLBACK_COUNTERS[plan.fallback], scope, operation)
      return traversal.scopes
    }
    this.counters.count('listsPrecise', scope, operation)
    return plan.scopes
  }

  unsettled(dependencies: readonly Scope[]): boolean {
    return this.stamps.isUnsettled(dependencies)
  }

  beginRead(operation: ReadOperation, scope: Scope, dependencies: readonly Scope[], key: string): StampTicket {
    const stampKeys = this.stamps.reads.keysFor(dependencies)
    // Only a precise `find` (its dependencies hold the membership stamp) has members.
    if (operation !== 'find' || !this.listPrecision || !dependencies.includes(membershipStamp(scope)))
      return { dependencies, keys: stampKeys, stampKeys, epoch: 0 }
    const known = this.members.known(key)
    return {
      dependencies,
      keys: known ? [...stampKeys, ...known.keys] : stampKeys,
      stampKeys,
      epoch: 0,
      flight: `${this.documentWrites.get(scope) ?? 0}.${this.documentWrites.get('*') ?? 0}`,
      list: { key, scope, known, maxMembers: memberRoom(stampKeys.length), startedAt: this.clock() },
    }
  }

  judge(ticket: StampTicket, values: Map<string, string | null>): Judgement {
    if (this.stamps.reads.contradictsRecentWrites(ticket.keys, values)) return { bypass: 'pending' }
    if (this.stamps.reads.burstOpen(ticket.keys, values)) return { bypass: 'burst' }
    // Read before the database call: a fill that races a write lands under the old tokens.
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
    return this.members.verify(list.key, list.scope, entry.stamps, signature, list.known, values)
  }

  fill(ticket: StampTicket, signature: string, result: unknown): FillDecision | Promise<FillDecision> {
    const { list } = ticket
    if (!list) return { signature }
    return this.members.fill(list.key, list.scope, signature, result, list.maxMembers, list.startedAt)
  }

  youngestWrite(ticket: StampTicket, values: Map<string, string | null>): number {
    return this.stamps.reads.youngestWrite(ticket.keys, values)
  }

  trackFill(): void {}

  /**
   * Besides the collections: the document stamps a write names by its arguments, and in
   * `after` what only its result names (a created document's id), or the bulk stamp when
   * neither says which row it wrote. With list precision: membership for creates and
   * deletes, and for an update the stamps of the fields it changed.
   */
  writeScopes(operation: string, own: Scope | undefined, affected: StampScope[], args: Args): WriteScopes {
    const none = (): StampScope[] => []
    if (!this.documentStamps) return { scopes: affected, after: none }
    const schema = this.schema()
    const scopes = [...affected]
    let after: WriteScopes['after'] = none
    let before: WriteScopes['before']
    for (const scope of affected) {
      if (scope === '*' || !scope.startsWith('c:')) continue
      if (scope !== own) {
        // A referrer whose foreign keys a delete changed: which of its rows, nobody says.
        scopes.push(bulkStamp(scope))
        continue
      }
      if (VERSION_WRITES.has(operation)) continue
      // A delete in a collection that points at itself (a parent page, related posts): its
      // foreign keys change other rows of the same collection, which nobody names.
      if (
        !SINGLE_DOCUMENT_WRITES.has(operation) ||
        (DELETE_OPERATIONS.has(operation) && schema.hasForeignKeys() && schema.graph.referrersOf(scope).has(scope))
      ) {
        scopes.push(bulkStamp(scope))
        continue
      }
      const named = schema.canonicalID(scope, idOfWriteArgs(operation, args))
      if (named !== undefined) scopes.push(documentStamp(scope, named))
      const documents: WriteScopes['after'] = (result, threw) => {
        const returned = threw ? undefined : schema.canonicalID(scope, idOfWriteResult(result))
        if (returned !== undefined) return named !== undefined && String(returned) === String(named) ? [] : [documentStamp(scope, returned)]
        // A create that failed, or a write that returned no id: any row may have changed.
        return named === undefined ? [bulkStamp(scope)] : []
      }
      after = documents
      if (!this.listPrecision || !this.hasPreciseLists(schema, scope)) continue
      if (operation !== 'updateOne') {
        // A create, a delete, an upsert (which may create): which documents exist changes.
        scopes.push(membershipStamp(scope))
        continue
      }
      if (named === undefined) {
        after = (result, threw) => [...documents(result, threw), membershipStamp(scope)]
        continue
      }
      const fields = this.fieldChanges(scope, named, args)
      before = fields.before
      after = (result, threw) => [...documents(result, threw), ...fields.after(result, threw)]
    }
    return { scopes, before, after }
  }

  /** Whether any list read of the collection is cached, so may depend on membership and fields. */
  private hasPreciseLists(schema: Schema, scope: Scope): boolean {
    return (
      schema.policy.ttlFor(scope, 'find') !== null ||
      schema.policy.ttlFor(scope, 'count') !== null ||
      schema.policy.ttlFor(scope, 'findDistinct') !== null
    )
  }

  /**
   * An update of a named document bumps the stamps of the fields whose stored value it
   * changed: the row read just before the write (in its transaction) against the row the
   * write returned. Anything that leaves that unsure bumps membership instead.
   */
  private fieldChanges(
    scope: Scope,
    id: DocumentID,
    args: Args,
  ): { before: (inTransaction: boolean) => Promise<void>; after: WriteScopes['after'] } {
    let image: unknown
    let trusted = false
    let end: (() => boolean) | undefined
    const slug = scope.slice(2)
    return {
      before: async (inTransaction) => {
        end = this.overlaps.begin(documentStamp(scope, id))
        // Outside a transaction a read may come from a replica behind another isolate's write
        // (README, Read replicas): the comparison would miss what that write changed.
        if (!inTransaction && this.schema().readsMayLag()) return
        try {
          this.counters.count('beforeImages', scope, 'updateOne')
          // Locked until the write's commit where the database would let another transaction
          // change the row in between (Postgres reads committed rows).
          if (inTransaction && !(await this.lockRow(slug, id, args.req))) return
          image = await this.readRow(slug, id, args.req)
          trusted = true
        } catch {
          this.counters.count('beforeImagesFailed', scope, 'updateOne')
        }
      },
      after: (result, threw) => {
        const overlapped = end ? end() : true
        // A `select` or `returning: false` leaves fields out of the result (MongoDB projects
        // `restoreVersion`'s select); a different id means a custom id was changed.
        const whole = !hasKeys(args.select) && args.returning !== false && String(idOfWriteResult(result)) === String(id)
        const changed =
          threw || !trusted || overlapped || !whole ? undefined : changedFields(image, result, this.schema().paths.storedFields(scope))
        if (changed === undefined || changed.length > MAX_FIELD_BUMPS) {
          this.counters.count('membershipBumps', scope, 'updateOne')
          return [membershipStamp(scope)]
        }
        return changed.map((field) => fieldStamp(scope, field))
      },
    }
  }

  /** Changes made outside Payload name no documents: every document read goes too. */
  expandInvalidation(scopes: StampScope[]): StampScope[] {
    if (!this.documentStamps) return scopes
    const out = [...scopes]
    for (const scope of scopes) if (scope !== '*' && scope.startsWith('c:') && !scope.includes('#')) out.push(bulkStamp(scope))
    return out
  }

  hold(scopes: Iterable<StampScope>): () => void {
    return this.stamps.hold(scopes)
  }

  /** A write to these scopes starts: running updates of its documents overlap it. */
  writeStarted(scopes: readonly StampScope[]): void {
    this.documentWritesSeen(scopes)
  }

  async invalidateAfterWrite(scopes: readonly StampScope[], release: () => void): Promise<void> {
    try {
      await this.stamps.bump(scopes)
    } finally {
      // Landed (a commit comes this way too): updates of its documents that began before are
      // compared with a row this write may have changed since.
      this.documentWritesSeen(scopes)
      release()
    }
  }

  /** Counts writes that change documents, by collection (the flight key), and tells the running updates. */
  private documentWritesSeen(scopes: readonly StampScope[]): void {
    if (!this.listPrecision) return
    this.overlaps.touch(scopes)
    for (const scope of scopes) {
      if (scope !== '*' && !scope.includes('#=') && !scope.endsWith('#*')) continue
      const owner = scope === '*' ? '*' : ownerOfStamp(scope)
      // Bounded by the config's collections.
      this.documentWrites.set(owner, (this.documentWrites.get(owner) ?? 0) + 1)
    }
  }

  invalidate(scopes: readonly StampScope[]): Promise<void> {
    return this.stamps.bumpAndWait(scopes)
  }

  /** Frees KV storage; the caller has bumped the stamps first, so an entry the listing misses is dead anyway. */
  async purge(scopes: readonly StampScope[]): Promise<void> {
    await (
      await this.purger.purge(this.schema().prefixesFor(this.prefix, scopes))
    ).done
  }

  footprint(): Record<string, number> {
    return { ...this.stamps.footprint(), listMembers: this.members.size, overlappingUpdates: this.overlaps.size }
  }

  configure(): void {
    this.stamps.reads.forgetDependencies()
  }
}
