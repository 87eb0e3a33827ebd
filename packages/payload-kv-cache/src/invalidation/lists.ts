import { strictlyEqual } from '../equality.js'
import type { Scope } from '../keys.js'
import { KV_LIMITS } from '../kv.js'
import type { ReadTraversal } from '../paths.js'
import type { DocumentID } from './documents.js'
import {
  bulkStamp,
  documentStamp,
  fieldStamp,
  membershipStamp,
  ownerOfStamp,
  partitionStamp,
  pinnedIDs,
  stampKind,
  unknownPartitionStamp,
  versionsBulkStamp,
  versionsStamp,
} from './documents.js'
import type { Partitions } from './partitions.js'
import { STAMP_SLOTS } from './stamp-tokens.js'

/*
 * List precision (ARCHITECTURE.md, Invalidation strategies; README, Consistency). A list
 * read's answer can change in two ways, and each has its own stamps:
 *
 * - Which documents match, in which order, and how many: only a create or delete in the
 *   collection (the membership stamp, `c:posts#+`), a write that cannot say what it touched
 *   (the bulk stamp, `c:posts#*`), or a write that changes the stored value of a field the
 *   read filters or sorts on (one stamp per top-level field, `c:posts#.category`, bumped by
 *   comparing the row before the write with the row after it).
 * - What the returned documents say: a `find` depends on the document stamps of the ids it
 *   returned (members.ts). A `count` has no content; `findDistinct` returns values of its
 *   field, which that field's stamp covers.
 *
 * Only reads of the collection's own rows are precise: a path through a relationship or a
 * join reads other collections' rows, and keeps to the collection stamps as before.
 */

/**
 * The reads that list a collection: each is made precise or counted as a fallback.
 * `queryDrafts` reads the versions table: precise only when pinned to parents (`planVersions`),
 * else a fallback.
 */
export const LIST_OPERATIONS: ReadonlySet<string> = new Set(['find', 'count', 'findDistinct', 'queryDrafts'])

/** Why a list read keeps to its collection's stamp; each reason is counted (`breakdown()`, `listFallbacks*`). */
export type ListFallbackReason = 'traversal' | 'field' | 'pageSize' | 'versions'

export type ListPlan =
  /**
   * `members`: most documents whose stamps the entry carries (0: none, a count or distinct
   * values); `byValue`: it depends on a value partition (partitions.ts) instead of membership;
   * `sortOnly`: the field stamps among `scopes` that only its order reads, which a complete
   * answer does not need (`completeAnswer`).
   */
  { scopes: Scope[]; members: number; byValue: boolean; pinned: boolean; sortOnly: Scope[] } | { fallback: ListFallbackReason }

/**
 * Changed fields one write may bump one by one; past it, the write bumps the membership stamp
 * instead (every list of the collection), which keeps a write's KV puts few.
 */
export const MAX_FIELD_BUMPS = 8

/**
 * The stamps a list read depends on, or why it cannot be precise. A `find` must name a page
 * size whose members' stamps fit in one bulk `get` beside the entry and its other stamps.
 * A `where` that requires a partition value depends on that partition's stamps instead of
 * membership, and needs no stamp of the fields a change of which bumps partitions
 * (partitions.ts).
 */
export function planList(
  operation: string,
  scope: Scope,
  args: Record<string, unknown>,
  traversal: ReadTraversal,
  hasCreatedAt: boolean,
  partitions: Partitions,
  canonical: (id: DocumentID) => DocumentID | undefined,
): ListPlan {
  if (operation === 'queryDrafts') return { fallback: 'versions' }
  if (!traversal.ownRowsOnly) return { fallback: 'traversal' }
  if (!traversal.understood) return { fallback: 'field' }
  const pinned = pinnedList(scope, args.where, canonical)
  if (pinned) return pinned
  const fields = new Set(traversal.fields)
  // Without a unique order the adapters add `createdAt` (or `id`) as the last sort key.
  if (operation !== 'count' && hasCreatedAt) fields.add('createdAt')
  const partition = partitions.choose(scope, args.where)
  const membership = partition
    ? [unknownPartitionStamp(scope), ...partition.values.map((value) => partitionStamp(scope, partition.field, value))]
    : [membershipStamp(scope)]
  const own = [...fields].filter((field) => !partition || !partitions.keys(scope, field)).sort()
  const scopes: Scope[] = [bulkStamp(scope), ...membership, ...own.map((field) => fieldStamp(scope, field))]
  const byValue = partition !== undefined
  if (operation !== 'find') return { scopes, members: 0, byValue, pinned: false, sortOnly: [] }
  const limit = args.limit
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit <= 0) return { fallback: 'pageSize' }
  if (limit > memberRoom(STAMP_SLOTS * (1 + scopes.length))) return { fallback: 'pageSize' }
  const filters = new Set(traversal.whereFields)
  const sortOnly = own.filter((field) => !filters.has(field)).map((field) => fieldStamp(scope, field))
  return { scopes, members: limit, byValue, pinned: false, sortOnly }
}

/**
 * Whether a `find` returned every document its `where` matches: the answer's `totalDocs`, or
 * (`matches`) the database's own count when the answer has none. Such an answer's order is
 * its members' order: a write that changes a sort value changes it only by writing a member
 * (its document stamp) or by moving a document into or out of the match (membership, a
 * partition or a filtered field's stamp), so it needs no stamp of a field it only sorts on.
 * Never from a page shorter than its `limit`: drizzle's LIMIT counts joined rows when the sort
 * reaches a `hasMany` or blocks table, so a short page may leave matches out. Never without a
 * `where` or with `near`: MongoDB answers those counts from collection metadata
 * (`estimatedDocumentCount`), not by counting. Only the first page.
 */
export function completeAnswer(args: Record<string, unknown>, result: unknown, matches?: number): boolean | 'count' {
  const { docs, totalDocs } = (result ?? {}) as { docs?: unknown; totalDocs?: unknown }
  if (!Array.isArray(docs) || typeof args.limit !== 'number') return false
  if (args.page !== undefined && args.page !== 1) return false
  if (!countable(args.where)) return false
  if (args.pagination !== false) return totalDocs === docs.length
  if (matches === undefined) return 'count'
  return matches === docs.length
}

/** A `where` whose count every adapter makes by counting: it has a condition, and no `near`. */
function countable(where: unknown): boolean {
  if (where === null || typeof where !== 'object' || Object.keys(where).length === 0) return false
  return !JSON.stringify(where).includes('"near"')
}

/**
 * A list whose `where` pins its matches to named ids (relationship population's
 * `id in [...]`, under access control's `and`): only those documents can be in it, so what
 * it returns, in which order and how many, changes only with a write to one of them (their
 * document stamps: a create, an update, a delete of that id) or a write that names no
 * document (the bulk stamp), whatever its page size or sort. Every path it reads must be of
 * the collection's own rows (checked by the caller). Undefined when nothing pins it, an id is
 * spelt other than the database returns it (its write would bump another stamp), or the
 * stamps would not fit one bulk `get` with the entry.
 */
function pinnedList(scope: Scope, where: unknown, canonical: (id: DocumentID) => DocumentID | undefined): ListPlan | undefined {
  const scopes = pinnedStamps(pinnedIDs(where), canonical, bulkStamp(scope), (id) => documentStamp(scope, id))
  return scopes && { scopes, members: 0, byValue: false, pinned: true, sortOnly: [] }
}

/**
 * The stamps of the ids a `where` pins (one per id, named by `stamp`), after the `bulk` stamp
 * that covers writes naming none; undefined when nothing pins it, an id is spelt other than
 * the database returns it, or they would not fit one bulk `get` beside the bulk stamp, the
 * global one and the entry.
 */
function pinnedStamps(
  ids: readonly DocumentID[] | undefined,
  canonical: (id: DocumentID) => DocumentID | undefined,
  bulk: Scope,
  stamp: (id: DocumentID) => Scope,
): Scope[] | undefined {
  if (!ids) return undefined
  const stamps = new Set<Scope>()
  for (const id of ids) {
    const spelt = canonical(id)
    if (spelt === undefined) return undefined
    stamps.add(stamp(spelt))
  }
  if (stamps.size > memberRoom(STAMP_SLOTS * 2)) return undefined
  return [bulk, ...[...stamps].sort()]
}

/** Reads of a collection's versions table (drafts too): what `planVersions` makes precise. */
export const VERSION_READS: ReadonlySet<string> = new Set(['findVersions', 'countVersions', 'queryDrafts'])

/**
 * A read of the versions table whose `where` pins `parent` (`parent: { equals }` or `in`, at
 * the top or in an `and`, beside any other condition: Payload's document views, version
 * history, pruning, and a draft `find` by id, whose `id` Payload turns into `parent`) reads
 * only those documents' versions rows: what it returns changes only with a write to their
 * versions (their versions stamps) or one that cannot say whose (the versions bulk stamp),
 * never with the main table's writes or another document's versions. Every path it reads must
 * be of the versions table's own rows (checked by the caller). Undefined when nothing pins it,
 * a parent is spelt other than the database returns it, or the stamps would not fit one bulk
 * `get` with the entry: the read keeps to the collection stamp.
 */
export function planVersions(scope: Scope, where: unknown, canonical: (id: DocumentID) => DocumentID | undefined): Scope[] | undefined {
  return pinnedStamps(pinnedIDs(where, 'parent'), canonical, versionsBulkStamp(scope), (id) => versionsStamp(scope, id))
}

/** Whether a list's dependencies are those of a precise list (it then carries members if a `find`). */
export function isPreciseList(scope: Scope, dependencies: readonly Scope[]): boolean {
  return dependencies.includes(membershipStamp(scope)) || dependencies.includes(unknownPartitionStamp(scope))
}

/** Documents whose stamps fit in one bulk `get` beside the entry and `stampKeys` other stamp keys (the global stamp's included). */
export function memberRoom(stampKeys: number): number {
  return Math.floor((KV_LIMITS.maxBulkGetKeys - 1 - stampKeys) / STAMP_SLOTS)
}

/**
 * The top-level fields whose stored value differs between the row before a write and after
 * it, compared strictly as whole values (every locale of a localized field, arrays and blocks
 * whole, relationship ids). Undefined when either image is missing: the caller then bumps
 * membership.
 */
export function changedFields(before: unknown, after: unknown, stored: readonly string[]): string[] | undefined {
  if (!isRecord(before) || !isRecord(after)) return undefined
  const out: string[] = []
  for (const field of stored) if (!strictlyEqual(before[field], after[field])) out.push(field)
  return out
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/**
 * Overlapping updates of one document in this isolate. Each compares the row it read before
 * its write with the row its write returned; if another update of the document ran in
 * between, a field the other changed and this one put back would be bumped by neither, so
 * both bump membership instead.
 */
export class OverlappingUpdates {
  private readonly running = new Map<string, { started: number; active: number }>()

  /** Returns the call to make when the update is over: true if another overlapped it. */
  begin(document: string): () => boolean {
    let record = this.running.get(document)
    if (!record) this.running.set(document, (record = { started: 0, active: 0 }))
    const overlappedAtStart = record.active > 0
    const mark = ++record.started
    record.active++
    const current = record
    let ended = false
    return () => {
      if (ended) return true
      ended = true
      current.active--
      if (current.active === 0) this.running.delete(document)
      return overlappedAtStart || current.started !== mark
    }
  }

  /**
   * Another write to these stamps started or landed in this isolate (a commit, a write that
   * names no document): the updates of those documents running now overlap it.
   */
  touch(scopes: readonly string[]): void {
    if (this.running.size === 0) return
    for (const scope of scopes) {
      const kind = stampKind(scope)
      if (kind === 'document') {
        const record = this.running.get(scope)
        if (record) record.started++
      } else if (kind === 'bulk' || kind === 'all') {
        // The bulk stamp (`*`: everything): every document of the collection may have changed.
        const owner = kind === 'all' ? '' : `${ownerOfStamp(scope)}#=`
        for (const [document, record] of this.running) if (document.startsWith(owner)) record.started++
      }
    }
  }

  get size(): number {
    return this.running.size
  }
}
