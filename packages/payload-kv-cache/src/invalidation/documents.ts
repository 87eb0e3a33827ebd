import type { ConfigLike } from '../dependencies.js'
import type { Scope } from '../keys.js'

/**
 * Per-document stamps, for the stamp strategy. A collection's stamp changes on every write to
 * it, which makes one edit invalidate every cached `findOne` of that collection, though
 * `findOne({ where: { id } })` (how Payload's `findByID` reads) can only change when that one
 * row does. So such a read, when it follows no relationship or join, depends on two stamps
 * instead of the collection's: its document's, bumped by writes that name that document, and
 * the collection's bulk stamp, bumped by every write that cannot say which documents it
 * touched (`updateMany`, `deleteMany`, a foreign key nulled by a delete elsewhere,
 * `invalidate()`). Version writes touch neither: `findOne` reads the main table only.
 *
 * Reads of the versions table pinned to one document's versions (`findVersions`,
 * `countVersions` and `queryDrafts` whose `where` requires `parent`: the admin's document
 * views and version history) likewise depend on that document's versions stamp and the
 * collection's versions bulk stamp (`versionsStamp`, `versionsBulkStamp`), which version
 * writes bump instead of leaving every versions read of the collection to its stamp.
 */

/** Writes that change exactly one main-table row, whose id the call or its result names. */
export const SINGLE_DOCUMENT_WRITES = new Set(['create', 'updateOne', 'deleteOne', 'upsert'])

/** Writes that touch only the versions tables, never a row `findOne` reads. */
export const VERSION_WRITES = new Set(['createVersion', 'updateVersion', 'deleteVersions'])

/** Ids longer than this keep to the collection stamp: the stamp key must stay well under 512 bytes. */
const MAX_ID_LENGTH = 200

export type DocumentID = string | number

export function documentStamp(scope: Scope, id: DocumentID): Scope {
  return `${scope}#=${String(id)}` as Scope
}

export function bulkStamp(scope: Scope): Scope {
  return `${scope}#*` as Scope
}

/**
 * Bumped by every write that changes the versions rows of one document (its `parent`): a
 * version created, updated or deleted, the document deleted (SQL sets its versions' `parent`
 * to null). What a versions read pinned to that document depends on, beside
 * `versionsBulkStamp`.
 */
export function versionsStamp(scope: Scope, id: DocumentID): Scope {
  return `${scope}#v=${String(id)}` as Scope
}

/**
 * Bumped by writes that change versions rows without saying whose: a `deleteVersions` whose
 * `where` pins no parent, an `updateVersion` whose parent cannot be known, a `deleteMany` or a
 * delete elsewhere whose foreign keys change versions rows (SQL), `invalidate()`. Every pinned
 * versions read checks it; its document's versions stamps fold into it.
 */
export function versionsBulkStamp(scope: Scope): Scope {
  return `${scope}#v*` as Scope
}

/** Bumped by creates and deletes in the collection: which documents exist (invalidation/lists.ts). */
export function membershipStamp(scope: Scope): Scope {
  return `${scope}#+` as Scope
}

/**
 * Bumped when a document holding `value` in `field` is created, deleted, or changed in a
 * field lists key on (partitions.ts): what a list requiring `field = value` depends on
 * instead of the membership stamp.
 */
export function partitionStamp(scope: Scope, field: string, value: string): Scope {
  return `${scope}#+${field}=${value}` as Scope
}

/**
 * Bumped by a write that changes which documents exist or match but cannot say in which
 * partitions (an upsert, an update whose before image is not trusted): every partitioned
 * list of the collection depends on it (partitions.ts).
 */
export function unknownPartitionStamp(scope: Scope): Scope {
  return `${scope}#+?` as Scope
}

export type StampKind =
  'collection' | 'document' | 'bulk' | 'membership' | 'partition' | 'unknownPartition' | 'field' | 'versions' | 'versionsBulk' | 'all'

/**
 * What a stamp is, from its spelling: the part after the scope's `#` (a slug never holds
 * one; a document id or a partition value after it may).
 */
export function stampKind(stamp: string): StampKind {
  if (stamp === '*') return 'all'
  const at = stamp.indexOf('#')
  if (at < 0) return 'collection'
  const rest = stamp.slice(at + 1)
  if (rest.startsWith('=')) return 'document'
  if (rest === '*') return 'bulk'
  if (rest === '+') return 'membership'
  if (rest === '+?') return 'unknownPartition'
  if (rest.startsWith('+')) return 'partition'
  if (rest.startsWith('v=')) return 'versions'
  if (rest === 'v*') return 'versionsBulk'
  return 'field'
}

/** Bumped when a write changes the stored value of one top-level field (invalidation/lists.ts). */
export function fieldStamp(scope: Scope, field: string): Scope {
  return `${scope}#.${field}` as Scope
}

/** The collection or global a stamp belongs to: what stats attribute it to. */
export function ownerOfStamp(stamp: string): string {
  const at = stamp.indexOf('#')
  return at < 0 ? stamp : stamp.slice(0, at)
}

/**
 * How the database compares a collection's ids, which decides when two ids name one row:
 * `number` (serial ids, or a custom number field: SQL casts `'01'` to 1), `text` (a custom
 * text id field: compared exactly), `generated` (uuid or ObjectId: hex compared without case,
 * and Postgres takes a uuid with braces or without hyphens).
 */
export type IDKind = 'number' | 'text' | 'generated'

/** The kinds of the collections with a custom id field (what Payload calls `customIDType`). */
export function customIDKinds(config: ConfigLike): Map<string, IDKind> {
  const kinds = new Map<string, IDKind>()
  for (const collection of config.collections ?? []) {
    for (const field of collection.fields ?? []) {
      const { name, type } = (field ?? {}) as { name?: unknown; type?: unknown }
      if (name === 'id' && (type === 'number' || type === 'text')) kinds.set(collection.slug, type)
    }
  }
  return kinds
}

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const CANONICAL_OBJECT_ID = /^[0-9a-f]{24}$/

/**
 * The id if it is the only spelling of its row, else undefined. A document stamp is named by
 * the id's text, so a read pinned to `'01'` or to an upper-case uuid would never see the
 * bump of a write made with `1` or the lower-case uuid: such reads and writes keep to the
 * collection and bulk stamps instead. The database returns ids in canonical form, so a
 * write's result always names a usable stamp.
 */
export function canonicalID(id: DocumentID | undefined, kind: IDKind): DocumentID | undefined {
  if (id === undefined) return undefined
  if (kind === 'number') return typeof id === 'number' && Number.isFinite(id) ? id : undefined
  if (typeof id !== 'string') return undefined
  if (kind === 'text') return id
  return CANONICAL_UUID.test(id) || CANONICAL_OBJECT_ID.test(id) ? id : undefined
}

function usable(id: unknown): id is DocumentID {
  return (typeof id === 'number' && Number.isFinite(id)) || (typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH)
}

/**
 * The one id a `where` pins its result to: an `id: { equals }` that every match must meet (at
 * the top, or in an `and` at any depth). Undefined when there is none, or two that differ.
 */
export function pinnedID(where: unknown): DocumentID | undefined {
  const found = new Set<string>()
  let id: DocumentID | undefined
  const visit = (node: unknown): void => {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
      if (key.toLowerCase() === 'and' && Array.isArray(value)) for (const part of value) visit(part)
      else if (key === 'id' && value !== null && typeof value === 'object' && 'equals' in value) {
        const equals = value.equals
        if (!usable(equals)) {
          found.add('\u0000unusable')
          continue
        }
        found.add(String(equals))
        id = equals
      }
    }
  }
  visit(where)
  return found.size === 1 ? id : undefined
}

/**
 * The ids a `where` pins its result to: every match must have one of them. Each
 * `id: { equals }` or `id: { in: [...] }` met at the top or in an `and` at any depth narrows
 * the set (a match meets them all); undefined when nothing pins it, or an id is of a shape no
 * document stamp names. Relationship population asks `id in [...]` (README, *What a list
 * depends on*). `field` names another column holding a document id: `parent` pins a read of
 * the versions table to the versions of those documents.
 */
export function pinnedIDs(where: unknown, field: 'id' | 'parent' = 'id'): DocumentID[] | undefined {
  // By text, as the databases compare them (`id = 7 AND id = '7'` matches document 7), with
  // every spelling met: each must name the document's stamp, or the caller keeps to the
  // collection's.
  let pinned: Map<string, DocumentID[]> | undefined
  let unusable = false
  const narrow = (ids: readonly unknown[]): void => {
    if (!ids.every(usable)) {
      unusable = true
      return
    }
    const next = new Map<string, DocumentID[]>()
    for (const id of ids) {
      const text = String(id)
      if (pinned && !pinned.has(text)) continue
      const spellings = next.get(text) ?? pinned?.get(text) ?? []
      next.set(text, spellings.includes(id) ? spellings : [...spellings, id])
    }
    pinned = next
  }
  const visit = (node: unknown): void => {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
      if (key.toLowerCase() === 'and' && Array.isArray(value)) for (const part of value) visit(part)
      else if (key === field && value !== null && typeof value === 'object' && !Array.isArray(value)) {
        const condition = value as Record<string, unknown>
        if ('equals' in condition) narrow([condition.equals])
        // A string is a comma-separated list to Payload, split by rules of its own.
        if ('in' in condition) {
          if (Array.isArray(condition.in)) narrow(condition.in)
          else unusable = true
        }
      }
    }
  }
  visit(where)
  return pinned && !unusable ? [...pinned.values()].flat() : undefined
}

/** The id of the document a single-document write names before it runs, if it does. */
export function idOfWriteArgs(operation: string, args: Record<string, unknown>): DocumentID | undefined {
  // The adapters take `id` before `where` when given both.
  if (operation === 'updateOne')
    return args.id !== undefined && args.id !== null
      ? usable(args.id)
        ? args.id
        : undefined
      : args.where !== undefined && args.where !== null
        ? pinnedID(args.where)
        : undefined
  if (operation === 'deleteOne' || operation === 'upsert') return pinnedID(args.where)
  return undefined
}

/** The id of the document a single-document write returned, if it returned one. */
export function idOfWriteResult(result: unknown): DocumentID | undefined {
  if (result === null || typeof result !== 'object') return undefined
  const id = (result as { id?: unknown }).id
  return usable(id) ? id : undefined
}
