import type { Scope } from '../keys.js'
import type { ReadOperation, ScopeRef } from '../operations.js'
import { DELETE_OPERATIONS } from '../operations.js'
import type { Schema } from '../schema.js'
import { bulkStamp, documentStamp, idOfWriteArgs, idOfWriteResult, pinnedID, SINGLE_DOCUMENT_WRITES, VERSION_WRITES } from './documents.js'
import type { Purger } from './purge.js'
import type { StampScope, Stamps } from './stamps.js'
import type { Args, InvalidationStrategy, Judgement, ReadTicket, WriteScopes } from './strategy.js'

/**
 * The default strategy: an entry is valid while the stamps it was filled under are current
 * (stamps.ts), and with `documentStamps` a read pinned to one id depends on its document's
 * stamp and the collection's bulk stamp rather than on every write to the collection
 * (documents.ts).
 */
export class StampStrategy implements InvalidationStrategy {
  readonly kind = 'stamp'

  constructor(
    private readonly stamps: Stamps,
    private readonly purger: Purger,
    private readonly schema: () => Schema,
    private readonly prefix: string,
    private readonly documentStamps: boolean,
  ) {}

  /**
   * A `findOne` pinned to one id that follows no relationship or join reads one row: it
   * depends on that document's stamp and the collection's bulk stamp.
   */
  dependencies(operation: ReadOperation, ref: ScopeRef, scope: Scope, args: Args): Scope[] {
    const { paths } = this.schema()
    if (operation !== 'findOne' || ref.kind !== 'collection' || !this.documentStamps)
      return paths.dependenciesOfCall(operation, scope, args)
    const { scopes, ownRowsOnly } = paths.traversal(operation, scope, args)
    const id = ownRowsOnly ? this.schema().canonicalID(scope, pinnedID(args.where)) : undefined
    return id === undefined ? scopes : [bulkStamp(scope), documentStamp(scope, id)]
  }

  unsettled(dependencies: readonly Scope[]): boolean {
    return this.stamps.isUnsettled(dependencies)
  }

  beginRead(dependencies: readonly Scope[]): ReadTicket {
    return { dependencies, keys: this.stamps.reads.keysFor(dependencies), epoch: 0 }
  }

  judge(ticket: ReadTicket, values: Map<string, string | null>): Judgement {
    if (this.stamps.reads.contradictsRecentWrites(ticket.keys, values)) return { bypass: 'pending' }
    if (this.stamps.reads.burstOpen(ticket.keys, values)) return { bypass: 'burst' }
    // Read before the database call: a fill that races a write lands under the old tokens.
    return { signature: this.stamps.reads.signature(ticket.keys, values) }
  }

  serves(entry: { stamps: string }, signature: string): boolean {
    return entry.stamps === signature
  }

  mayFill(): boolean {
    return true
  }

  youngestWrite(ticket: ReadTicket, values: Map<string, string | null>): number {
    return this.stamps.reads.youngestWrite(ticket.keys, values)
  }

  trackFill(): void {}

  /**
   * Besides the collections: the document stamps a write names by its arguments, and in
   * `after` what only its result names (a created document's id), or the bulk stamp when
   * neither says which row it wrote.
   */
  writeScopes(operation: string, own: Scope | undefined, affected: StampScope[], args: Args): WriteScopes {
    const none = (): StampScope[] => []
    if (!this.documentStamps) return { scopes: affected, after: none }
    const schema = this.schema()
    const scopes = [...affected]
    let after: WriteScopes['after'] = none
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
      after = (result, threw) => {
        const returned = threw ? undefined : schema.canonicalID(scope, idOfWriteResult(result))
        if (returned !== undefined) return named !== undefined && String(returned) === String(named) ? [] : [documentStamp(scope, returned)]
        // A create that failed, or a write that returned no id: any row may have changed.
        return named === undefined ? [bulkStamp(scope)] : []
      }
    }
    return { scopes, after }
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

  writeStarted(): void {}

  async invalidateAfterWrite(scopes: readonly StampScope[], release: () => void): Promise<void> {
    try {
      await this.stamps.bump(scopes)
    } finally {
      release()
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
    return this.stamps.footprint()
  }

  configure(): void {
    this.stamps.reads.forgetDependencies()
  }
}
