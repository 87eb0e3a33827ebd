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
  pinnedIDs,
  SINGLE_DOCUMENT_WRITES,
  stampKind,
  unknownPartitionStamp,
  VERSION_WRITES,
  versionsBulkStamp,
  versionsStamp,
} from './documents.js'
import { changedFields, MAX_FIELD_BUMPS, OverlappingUpdates } from './lists.js'
import { MAX_PARTITION_BUMPS } from './partitions.js'
import type { StampScope } from './stamps.js'
import type { Args, WriteScopes } from './strategy.js'

export interface StampWritesOptions {
  schema: () => Schema
  counters: Counters
  documentStamps: boolean
  listPrecision: boolean
}

/**
 * Parents one `deleteVersions` may name one by one; past it, the versions bulk stamp. Payload
 * deletes the versions of one document at a time (pruning past `maxPerDoc`, a delete).
 */
const MAX_VERSIONS_BUMPS = 8

function hasKeys(value: unknown): boolean {
  return value !== null && typeof value === 'object' && Object.keys(value).length > 0
}

/** An id a stamp can be named by, as documents.ts takes them; undefined for any other value. */
function usableID(value: unknown): DocumentID | undefined {
  return idOfWriteResult(value === undefined || value === null ? undefined : { id: value })
}

/** Whether a write's result is its document's whole row: no `select`, returned, the id it wrote. */
function isWhole(args: Args, result: unknown, id: DocumentID): boolean {
  return !hasKeys(args.select) && args.returning !== false && String(idOfWriteResult(result)) === String(id)
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
  /** This deploy's read options: they decide only how closely it looks, never what it leaves out (see `precision`). */
  private readonly listPrecision: boolean
  private readonly overlaps = new OverlappingUpdates()
  /** Writes that changed documents, by collection (`*`: a flush): what a precise `find`'s flight key carries. */
  private readonly documentWrites = new Map<string, number>()

  constructor(options: StampWritesOptions) {
    this.schema = options.schema
    this.counters = options.counters
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
   * neither says which row it wrote; membership for creates and deletes, and for an update
   * the stamps of the fields it changed (or, where this deploy does not look, the coarser
   * stamps that cover them: see `precision`).
   */
  scopes(operation: string, own: Scope | undefined, affected: StampScope[], args: Args): WriteScopes {
    const none = (): StampScope[] => []
    const schema = this.schema()
    const scopes = [...affected]
    let after: WriteScopes['after'] = none
    let before: WriteScopes['before']
    for (const scope of affected) {
      if (scope === '*' || !scope.startsWith('c:')) continue
      if (scope !== own) {
        // A referrer whose foreign keys a delete changed: which of its rows, nobody says. Its
        // versions rows hold the same foreign keys (a version's author, its `_rels` rows).
        scopes.push(bulkStamp(scope))
        if (!VERSION_WRITES.has(operation) && schema.hasVersions(scope)) scopes.push(versionsBulkStamp(scope))
        continue
      }
      if (VERSION_WRITES.has(operation)) {
        // The main table is untouched: `findOne` and the lists keep their stamps.
        const versions = this.versionWrite(schema, scope, operation, args)
        scopes.push(...versions.scopes)
        after = versions.after
        before = versions.before
        continue
      }
      // A delete in SQL sets its versions' `parent` to null (a foreign key), whatever Payload
      // deleted before it: bumped whatever this deploy caches (README, Across deploys).
      if (DELETE_OPERATIONS.has(operation) && schema.hasForeignKeys() && schema.hasVersions(scope))
        scopes.push(...this.versionsOfDeleted(schema, scope, operation, args))
      const precision = this.precision(schema, scope)
      // A delete in a collection that points at itself (a parent page, related posts): its
      // foreign keys change other rows of the same collection, which nobody names.
      if (
        precision === 'collection' ||
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
      const partitioned = schema.partitions.has(scope)
      if (precision === 'documents') {
        // Which lists it changed, this deploy does not look: every list of the collection.
        scopes.push(...this.unsure(scope, operation, partitioned))
        continue
      }
      if (operation === 'updateOne') {
        if (named === undefined) {
          after = (result, threw) => [...documents(result, threw), ...this.unsure(scope, operation, partitioned)]
          continue
        }
        const changes = this.fieldChanges(scope, named, args, partitioned)
        before = changes.before
        after = (result, threw) => [...documents(result, threw), ...changes.after(result, threw)]
        continue
      }
      if (operation === 'upsert') {
        const upsert = this.upsertChanges(scope, args, partitioned)
        before = upsert.before
        after = (result, threw) => [...documents(result, threw), ...upsert.after(result, threw)]
        continue
      }
      // A create, a delete: which documents exist changes.
      scopes.push(membershipStamp(scope))
      if (!partitioned) continue
      if (operation === 'create') {
        after = (result, threw) => [...documents(result, threw), ...(threw ? [] : this.created(scope, operation, args, result))]
      } else if (operation === 'deleteOne' && named !== undefined) {
        const image = this.image(scope, named, args, operation)
        before = image.before
        after = (result, threw) => {
          const row = image.end()
          if (threw || !row) return [...documents(result, threw), ...this.unsure(scope, operation, true, false)]
          // Outside a transaction nothing locks the row: another isolate may move the document
          // between the before image and the delete, so the row the delete returned (the
          // adapters return what they deleted) names its partitions too.
          const whole = isWhole(args, result, named)
          if (!whole && !row.locked) return [...documents(result, threw), ...this.unsure(scope, operation, true, false)]
          return [...documents(result, threw), ...this.partitionsOf(scope, operation, whole ? [row.row, result] : [row.row])]
        }
      } else scopes.push(...this.unsure(scope, operation, true, false))
    }
    return { scopes, before, after }
  }

  /**
   * What a version write bumps besides the collection: the versions stamp of the document
   * whose versions it changes (documents.ts, `versionsStamp`), or the versions bulk stamp when
   * it cannot say whose. A `createVersion` names its `parent` (drizzle's and MongoDB's also
   * unset `latest` on that parent's older versions: the same stamp); a `deleteVersions`, the
   * parents its `where` requires; an `updateVersion` names a version, so its result names
   * the parent, and one that sets `parent` (Payload's autosave passes the same one) may move
   * the version from another: that one is read just before the write (see `versionParent`).
   */
  private versionWrite(
    schema: Schema,
    scope: Scope,
    operation: string,
    args: Args,
  ): { scopes: StampScope[]; before?: WriteScopes['before']; after: WriteScopes['after'] } {
    const bulk = versionsBulkStamp(scope)
    const parentOf = (result: unknown, threw: boolean): DocumentID | undefined =>
      threw || result === null || typeof result !== 'object'
        ? undefined
        : schema.canonicalID(scope, usableID((result as { parent?: unknown }).parent))
    if (operation === 'createVersion') {
      const named = schema.canonicalID(scope, usableID(args.parent))
      return {
        scopes: named === undefined ? [] : [versionsStamp(scope, named)],
        after: (result, threw) => {
          const returned = parentOf(result, threw)
          if (returned !== undefined)
            return named !== undefined && String(returned) === String(named) ? [] : [versionsStamp(scope, returned)]
          return named === undefined ? [bulk] : []
        },
      }
    }
    if (operation === 'deleteVersions') {
      const ids = pinnedIDs(args.where, 'parent')
      const named = ids?.map((id) => schema.canonicalID(scope, id))
      if (!named || named.some((id) => id === undefined) || named.length > MAX_VERSIONS_BUMPS) return { scopes: [bulk], after: () => [] }
      return { scopes: [...new Set(named.map((id) => versionsStamp(scope, id!)))], after: () => [] }
    }
    // updateVersion.
    const from = this.versionParent(schema, scope, args)
    return {
      scopes: from.scopes,
      before: from.before,
      after: (result, threw) => {
        const returned = parentOf(result, threw)
        const out = new Set<StampScope>(from.after(returned))
        out.add(returned === undefined ? bulk : versionsStamp(scope, returned))
        return [...out]
      },
    }
  }

  /**
   * The parent an `updateVersion` that sets `parent` may move its version from: read just
   * before the write, in its transaction (one database read, `beforeImages`). Unknown (the
   * versions bulk stamp) when the write names no version by id, the read fails or may come
   * from a replica behind the primary, or where this deploy caches no read of the collection
   * (it does not look, as for documents: see `precision`). Another write moving the same
   * version between the read and this write is not seen: Payload never moves a version.
   */
  private versionParent(
    schema: Schema,
    scope: Scope,
    args: Args,
  ): { scopes: StampScope[]; before?: WriteScopes['before']; after: (returned: DocumentID | undefined) => StampScope[] } {
    const data = args.versionData
    const moves = data !== null && typeof data === 'object' && Object.hasOwn(data, 'parent')
    if (!moves) return { scopes: [], after: () => [] }
    const bulk = versionsBulkStamp(scope)
    const id = usableID(args.id)
    const where = args.where
    if (id === undefined || (where !== undefined && where !== null) || this.precision(schema, scope) === 'collection')
      return { scopes: [bulk], after: () => [] }
    let parent: unknown
    let trusted = false
    return {
      scopes: [],
      before: async (inTransaction) => {
        if (!inTransaction && this.schema().readsMayLag()) return
        try {
          this.counters.count('beforeImages', scope, 'updateVersion')
          parent = await this.schema().readVersionParent(scope.slice(2), id, args.req)
          trusted = true
        } catch {
          this.counters.count('beforeImagesFailed', scope, 'updateVersion')
        }
      },
      after: (returned) => {
        // No such version: the write changed nothing (its result says so too).
        if (trusted && (parent === undefined || parent === null)) return []
        const old = trusted ? schema.canonicalID(scope, usableID(parent)) : undefined
        if (old === undefined) return [bulk]
        return returned !== undefined && String(old) === String(returned) ? [] : [versionsStamp(scope, old)]
      },
    }
  }

  /**
   * A delete of documents in SQL: their versions' `parent` becomes null. A `deleteOne` by
   * id names whose; anything else, or a collection whose rows point at each other (the
   * versions of others hold those foreign keys too), the versions bulk stamp.
   */
  private versionsOfDeleted(schema: Schema, scope: Scope, operation: string, args: Args): StampScope[] {
    const named = operation === 'deleteOne' ? schema.canonicalID(scope, idOfWriteArgs(operation, args)) : undefined
    if (named === undefined || schema.graph.referrersOf(scope).has(scope)) return [versionsBulkStamp(scope)]
    return [versionsStamp(scope, named)]
  }

  /**
   * How closely this deploy can name what a write to the collection changed. Which stamps a
   * write bumps must not depend on the writer's read options (README, Across deploys): another
   * deploy sharing the KV may cache what this one does not, with document stamps and list
   * precision on. So a deploy that does not look (no before image, because it caches no list
   * of the collection, or has `documentStamps` or `listPrecision` off) bumps coarser stamps
   * that every such reader also checks: `documents` (the document's stamp, then membership
   * and the unknown partition, which every precise list depends on), or `collection` (the
   * bulk stamp, which every precise read depends on) where it caches no read of the
   * collection at all, so that a queue's or a lock's writes cost one stamp put, not three.
   */
  private precision(schema: Schema, scope: Scope): 'lists' | 'documents' | 'collection' {
    const { policy } = schema
    if (!policy.isCached(scope)) return 'collection'
    const lists =
      policy.ttlFor(scope, 'find') !== null || policy.ttlFor(scope, 'count') !== null || policy.ttlFor(scope, 'findDistinct') !== null
    return this.listPrecision && lists ? 'lists' : 'documents'
  }

  /**
   * An update of a named document bumps the stamps of the fields whose stored value it
   * changed: the row read just before the write (in its transaction) against the row the
   * write returned; and if a field lists key on changed, the partitions the document was in
   * and is in (partitions.ts). Anything that leaves that unsure bumps membership instead.
   */
  private fieldChanges(
    scope: Scope,
    id: DocumentID,
    args: Args,
    partitioned: boolean,
  ): { before: (inTransaction: boolean) => Promise<void>; after: WriteScopes['after'] } {
    const image = this.image(scope, id, args, 'updateOne')
    return {
      before: image.before,
      after: (result, threw) => {
        const before = image.end()
        // A `select` or `returning: false` leaves fields out of the result (MongoDB projects
        // `restoreVersion`'s select); a different id means a custom id was changed.
        if (!before || threw || !isWhole(args, result, id)) return this.unsure(scope, 'updateOne', partitioned)
        return this.changeBumps(scope, 'updateOne', before.row, result, partitioned)
      },
    }
  }

  /**
   * What a write that changed one document from `before` to `after` bumps: the stamps of the
   * fields whose stored value changed, and if one lists key on changed, the partitions the
   * document was in and is in; membership (and every partition) past `MAX_FIELD_BUMPS`.
   */
  private changeBumps(scope: Scope, operation: string, before: unknown, after: unknown, partitioned: boolean): StampScope[] {
    const schema = this.schema()
    const changed = changedFields(before, after, schema.paths.storedFields(scope))
    if (changed === undefined || changed.length > MAX_FIELD_BUMPS) return this.unsure(scope, operation, partitioned)
    const out: StampScope[] = changed.map((field) => fieldStamp(scope, field))
    if (partitioned && schema.partitions.moves(scope, changed)) out.push(...this.partitionsOf(scope, operation, [before, after]))
    return out
  }

  /**
   * An `upsert` (Payload's preferences write with one on every change) updates the document
   * its `where` matches, or creates one. Read just before the write: exactly one match, and
   * the write returned that document whole, makes it an update of it (`fieldChanges`' rule,
   * with the same image); no match, several, or anything unsure is what a create may change:
   * membership and every partition.
   */
  private upsertChanges(
    scope: Scope,
    args: Args,
    partitioned: boolean,
  ): { before: (inTransaction: boolean) => Promise<void>; after: WriteScopes['after'] } {
    let image: ReturnType<StampWrites['image']> | undefined
    let id: DocumentID | undefined
    return {
      before: async (inTransaction) => {
        if (!inTransaction && this.schema().readsMayLag()) return
        try {
          const ids = await this.schema().matchingIDs(scope.slice(2), args.where, args.locale, args.req)
          id = ids.length === 1 ? this.schema().canonicalID(scope, usableID(ids[0])) : undefined
        } catch {
          this.counters.count('beforeImagesFailed', scope, 'upsert')
          return
        }
        if (id === undefined) return
        image = this.image(scope, id, args, 'upsert')
        await image.before(inTransaction)
      },
      after: (result, threw) => {
        const before = image?.end()
        if (id === undefined || !before || threw || !isWhole(args, result, id)) return this.unsure(scope, 'upsert', partitioned)
        return this.changeBumps(scope, 'upsert', before.row, result, partitioned)
      },
    }
  }

  /**
   * The row as it is just before a write to it, for the write to compare with or to name
   * the partitions it leaves: read in the write's transaction, locked there first where the
   * database would let another transaction change it in between (Postgres reads committed
   * rows). `end` answers it once the write is over, unless it cannot be trusted: another
   * write to the document ran in between in this isolate, or it came from a replica.
   */
  private image(
    scope: Scope,
    id: DocumentID,
    args: Args,
    operation: string,
  ): { before: (inTransaction: boolean) => Promise<void>; end: () => { row: unknown; locked: boolean } | undefined } {
    let row: unknown
    let trusted = false
    let locked = false
    let end: (() => boolean) | undefined
    const slug = scope.slice(2)
    return {
      before: async (inTransaction) => {
        end = this.overlaps.begin(documentStamp(scope, id))
        // Outside a transaction a read may come from a replica behind another isolate's write
        // (README, Read replicas): the comparison would miss what that write changed.
        if (!inTransaction && this.schema().readsMayLag()) return
        try {
          this.counters.count('beforeImages', scope, operation)
          if (inTransaction && !(await this.schema().lockRow(slug, id, args.req))) return
          row = await this.schema().readRow(slug, id, args.req)
          trusted = true
          locked = inTransaction
        } catch {
          this.counters.count('beforeImagesFailed', scope, operation)
        }
      },
      end: () => {
        const overlapped = end ? end() : true
        return trusted && !overlapped ? { row, locked } : undefined
      },
    }
  }

  /** A created document's partitions, from the row the create returned. */
  private created(scope: Scope, operation: string, args: Args, result: unknown): StampScope[] {
    const id = idOfWriteResult(result)
    return id !== undefined && isWhole(args, result, id)
      ? this.partitionsOf(scope, operation, [result])
      : this.unsure(scope, operation, true, false)
  }

  /** The partition stamps of these rows of one document; every partitioned list when one cannot be spelt or there are too many. */
  private partitionsOf(scope: Scope, operation: string, rows: unknown[]): StampScope[] {
    const out = new Set<StampScope>()
    for (const row of rows) {
      const stamps = this.schema().partitions.stampsOf(scope, row)
      if (stamps === undefined) return this.unsure(scope, operation, true, false)
      for (const stamp of stamps) out.add(stamp)
    }
    return out.size > MAX_PARTITION_BUMPS ? this.unsure(scope, operation, true, false) : [...out]
  }

  /**
   * A write that changes which documents match without saying where: membership (unless the
   * caller bumps it already) and, where lists are partitioned, every partition.
   */
  private unsure(scope: Scope, operation: string, partitioned: boolean, membership = true): StampScope[] {
    const out: StampScope[] = []
    if (membership) {
      this.counters.count('membershipBumps', scope, operation)
      out.push(membershipStamp(scope))
    }
    if (partitioned) {
      this.counters.count('unknownPartitionBumps', scope, operation)
      out.push(unknownPartitionStamp(scope))
    }
    return out
  }

  /**
   * A write to these stamps started or landed (a commit too): counts writes that change
   * documents, by collection (the flight key), and tells the updates running now.
   */
  seen(scopes: readonly StampScope[]): void {
    this.overlaps.touch(scopes)
    for (const scope of scopes) {
      const kind = stampKind(scope)
      if (kind !== 'all' && kind !== 'document' && kind !== 'bulk') continue
      const owner = kind === 'all' ? '*' : ownerOfStamp(scope)
      // Bounded by the config's collections.
      this.documentWrites.set(owner, (this.documentWrites.get(owner) ?? 0) + 1)
    }
  }
}
