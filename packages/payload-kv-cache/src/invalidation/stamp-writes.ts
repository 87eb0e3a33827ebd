import type { Scope } from '../keys.js'
import { DELETE_OPERATIONS } from '../operations.js'
import type { Schema } from '../schema.js'
import type { Counters } from '../stats.js'
import type { DocumentID } from './documents.js'
import {
  bulkStamp,
  documentStamp,
  fieldStamp,
  idOfWriteArgs,
  idOfWriteResult,
  membershipStamp,
  ownerOfStamp,
  SINGLE_DOCUMENT_WRITES,
  VERSION_WRITES,
} from './documents.js'
import { changedFields, MAX_FIELD_BUMPS, OverlappingUpdates } from './lists.js'
import type { StampScope } from './stamps.js'
import type { Args, WriteScopes } from './strategy.js'

export interface StampWritesOptions {
  schema: () => Schema
  counters: Counters
  documentStamps: boolean
  listPrecision: boolean
}

function hasKeys(value: unknown): boolean {
  return value !== null && typeof value === 'object' && Object.keys(value).length > 0
}

/**
 * Which stamps a write bumps, for the stamp strategy (ARCHITECTURE.md, write path step 1):
 * its collections' (write.ts), then the document stamps it names or returns, the bulk stamp
 * when it cannot say which rows it touched, and with list precision the membership stamp for
 * creates and deletes and the field stamps of what an update changed (lists.ts). It also
 * keeps what this isolate knows of writes to documents while updates run.
 */
export class StampWrites {
  private readonly schema: () => Schema
  private readonly counters: Counters
  private readonly documentStamps: boolean
  private readonly listPrecision: boolean
  private readonly overlaps = new OverlappingUpdates()
  /** Writes that changed documents, by collection (`*`: a flush): what a precise `find`'s flight key carries. */
  private readonly documentWrites = new Map<string, number>()

  constructor(options: StampWritesOptions) {
    this.schema = options.schema
    this.counters = options.counters
    this.documentStamps = options.documentStamps
    this.listPrecision = options.documentStamps && options.listPrecision
  }

  get size(): number {
    return this.overlaps.size
  }

  /** The flight key part of a precise `find` of `scope` (strategy.ts, ReadTicket.flight). */
  flight(scope: Scope): string {
    return `${this.documentWrites.get(scope) ?? 0}.${this.documentWrites.get('*') ?? 0}`
  }

  /**
   * Besides the collections: the document stamps a write names by its arguments, and in
   * `after` what only its result names (a created document's id), or the bulk stamp when
   * neither says which row it wrote. With list precision: membership for creates and
   * deletes, and for an update the stamps of the fields it changed.
   */
  scopes(operation: string, own: Scope | undefined, affected: StampScope[], args: Args): WriteScopes {
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
          if (inTransaction && !(await this.schema().lockRow(slug, id, args.req))) return
          image = await this.schema().readRow(slug, id, args.req)
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

  /**
   * A write to these stamps started or landed (a commit too): counts writes that change
   * documents, by collection (the flight key), and tells the updates running now.
   */
  seen(scopes: readonly StampScope[]): void {
    if (!this.listPrecision) return
    this.overlaps.touch(scopes)
    for (const scope of scopes) {
      if (scope !== '*' && !scope.includes('#=') && !scope.endsWith('#*')) continue
      const owner = scope === '*' ? '*' : ownerOfStamp(scope)
      // Bounded by the config's collections.
      this.documentWrites.set(owner, (this.documentWrites.get(owner) ?? 0) + 1)
    }
  }
}
