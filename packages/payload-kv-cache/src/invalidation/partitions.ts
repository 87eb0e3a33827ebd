import type { ConfigLike } from '../dependencies.js'
import type { Scope } from '../keys.js'
import { byteLength } from '../keys.js'
import type { PathDialect } from '../path-fields.js'
import type { IDKind } from './documents.js'
import { canonicalID, partitionStamp } from './documents.js'

/*
 * Value partitions (ARCHITECTURE.md, List precision; README, What a list depends on). A list
 * whose `where` requires `category = X` (at the top, or in an `and` at any depth) can only
 * change through documents whose `category` is X before or after a write: a post created,
 * deleted or moved in category Y cannot touch it. Such a list depends on the partition stamp
 * `c:posts#+category=X` instead of the collection's membership stamp, and a write bumps the
 * partition stamps of the values its document holds before and after it.
 *
 * A partition stamp says "a document of this partition was created, deleted, or changed in a
 * field lists key on". Which fields lists key on is decided once, from the config, so that
 * every isolate agrees: the partition fields themselves, and every field the site indexes
 * (what a site filters and sorts on), but not `updatedAt`, which every save changes. A list
 * keyed on a partition therefore skips the field stamps of those fields; a field outside
 * them (a body text it searches) keeps its field stamp.
 */

/**
 * Fields whose stored value is one scalar the database compares exactly, so that "the list
 * requires value V" and "the document holds value V" can be spelt the same on both sides:
 * ids of a single-collection relationship or upload, and the strings of select and radio
 * fields and of indexed or unique text and email fields. Not localized (one value per
 * locale), not `hasMany` (arrays).
 */
type PartitionKind = { kind: 'id'; target: Scope } | { kind: 'string' }

interface CollectionPartitions {
  fields: Map<string, PartitionKind>
  /** Fields whose change bumps the document's partitions (see above). */
  keyed: Set<string>
}

/** A value longer than this many bytes, or holding `#`, is never a partition: no stamp key is built from it. */
const MAX_VALUE_LENGTH = 100

/** Values an `in` may list and still be a partition (one stamp each in the read's bulk `get`). */
export const MAX_PARTITION_VALUES = 4

/**
 * Partition stamps one write may bump; past it, the write bumps the collection's unknown
 * partition stamp (every partitioned list) instead, which keeps a write's KV puts few.
 */
export const MAX_PARTITION_BUMPS = 12

/** What a list is partitioned on: one field and the values its `where` requires of it. */
export interface Partition {
  field: string
  values: string[]
}

type RawField = {
  name?: unknown
  type?: unknown
  hasMany?: unknown
  localized?: unknown
  relationTo?: unknown
  index?: unknown
  unique?: unknown
  virtual?: unknown
  fields?: ReadonlyArray<unknown>
  tabs?: ReadonlyArray<{ name?: unknown; fields?: ReadonlyArray<unknown> }>
}

const STRING_TYPES = new Set(['select', 'radio', 'text', 'email'])

export interface PartitionsOptions {
  /** The id kind of a collection (Schema.canonicalID's rule). */
  idKind: (scope: Scope) => IDKind
  /**
   * Whose `sanitizeQueryValue` turns a `where` value into what the database compares. SQL
   * compares strings exactly; MongoDB's adapter may apply a collation (case- or
   * accent-insensitive), under which two spellings match one document: strings are never
   * partitions there. Generated ids are uuids in SQL and ObjectIds in MongoDB (see `spell`).
   */
  dialect: PathDialect
  /**
   * SQL only: the adapter's own ids are numbers (drizzle's `idType` is not a uuid). drizzle
   * then widens an `in` on a relationship to every id type a text could be: `'12-x'` is also
   * compared as `parseInt('12-x')`, so a relationship to custom text ids matches `'12'` too.
   */
  numberIDs: boolean
}

/** What `uuid.validate` accepts (uuid 13, which drizzle uses), in the lower case Postgres returns. */
const VALID_UUID =
  /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$/
const OBJECT_ID = /^[0-9a-f]{24}$/

export class Partitions {
  private readonly collections = new Map<Scope, CollectionPartitions>()
  private readonly idKind: (scope: Scope) => IDKind
  private readonly dialect: PathDialect
  private readonly widensIn: boolean

  constructor(config: ConfigLike, options: PartitionsOptions) {
    this.idKind = options.idKind
    this.dialect = options.dialect
    this.widensIn = options.dialect === 'sql' && options.numberIDs
    const exactStrings = options.dialect === 'sql'
    for (const collection of config.collections ?? []) {
      const fields = new Map<string, PartitionKind>()
      const keyed = new Set<string>()
      for (const field of topLevel(collection.fields ?? [])) {
        const name = field.name
        // A virtual field is no column of the row: nothing a write stores, nothing to key on.
        if (typeof name !== 'string' || name === 'id' || (field.virtual !== undefined && field.virtual !== false)) continue
        let kind = partitionKind(field, exactStrings)
        // Custom text ids are strings too: under a collation two spellings name one document.
        if (kind?.kind === 'id' && !exactStrings && this.idKind(kind.target) === 'text') kind = undefined
        if (kind) fields.set(name, kind)
        if (kind || ((field.index === true || field.unique === true) && name !== 'updatedAt')) keyed.add(name)
      }
      if (fields.size > 0) this.collections.set(`c:${collection.slug}`, { fields, keyed })
    }
  }

  /** Whether any list of the collection can be partitioned. */
  has(scope: Scope): boolean {
    return this.collections.has(scope)
  }

  /** Whether a change of this field bumps the document's partitions, so a partitioned list needs no stamp of it. */
  keys(scope: Scope, field: string): boolean {
    return this.collections.get(scope)?.keyed.has(field) ?? false
  }

  /** Whether a change of any of these fields bumps the document's partitions. */
  moves(scope: Scope, changed: readonly string[]): boolean {
    const keyed = this.collections.get(scope)?.keyed
    return keyed !== undefined && changed.some((field) => keyed.has(field))
  }

  /**
   * The partition a read's `where` requires, if any: an `equals`, or an `in` of at most
   * `MAX_PARTITION_VALUES`, on a partition field, in a conjunct every match must meet. Of
   * several, the one with fewest values, then a relationship before a string (ids are the
   * finer split: `_status` has two values), then by name.
   */
  choose(scope: Scope, where: unknown): Partition | undefined {
    const collection = this.collections.get(scope)
    if (!collection) return undefined
    let best: (Partition & { rank: number }) | undefined
    const consider = (field: string, condition: unknown): void => {
      const kind = collection.fields.get(field)
      if (!kind || condition === null || typeof condition !== 'object' || Array.isArray(condition)) return
      const ops = condition as Record<string, unknown>
      let raw: unknown[] | undefined
      if ('equals' in ops) {
        // Both adapters read REST's text `'null'` on a relationship as null (`IS NULL`, `$eq: null`):
        // the documents with no value, which no partition holds.
        if (kind.kind === 'id' && ops.equals === 'null') return
        raw = [ops.equals]
      } else if (Array.isArray(ops.in) && ops.in.length > 0 && ops.in.length <= MAX_PARTITION_VALUES) raw = this.widen(kind, ops.in)
      if (!raw) return
      const values = new Set<string>()
      for (const value of raw) {
        const spelt = this.spell(kind, value)
        if (typeof spelt !== 'string') return
        values.add(spelt)
      }
      const rank = kind.kind === 'id' ? 0 : 1
      const candidate = { field, values: [...values].sort(), rank }
      if (
        !best ||
        candidate.values.length < best.values.length ||
        (candidate.values.length === best.values.length && (rank < best.rank || (rank === best.rank && field < best.field)))
      )
        best = candidate
    }
    const visit = (node: unknown): void => {
      if (node === null || typeof node !== 'object' || Array.isArray(node)) return
      for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
        // The adapters compare `and` / `or` case-insensitively; only `and` is required of every match.
        if (key.toLowerCase() === 'and') {
          if (Array.isArray(value)) for (const part of value) visit(part)
        } else if (key.toLowerCase() !== 'or') consider(key, value)
      }
    }
    visit(where)
    if (!best) return undefined
    return { field: best.field, values: best.values }
  }

  /**
   * The partition stamps of a stored document: one per partition field holding a value.
   * Undefined when a value is of a shape the spelling does not know (the caller then bumps
   * every partitioned list of the collection).
   */
  stampsOf(scope: Scope, row: unknown): Scope[] | undefined {
    const collection = this.collections.get(scope)
    if (!collection) return []
    if (row === null || typeof row !== 'object' || Array.isArray(row)) return undefined
    const out: Scope[] = []
    for (const [field, kind] of collection.fields) {
      const value = (row as Record<string, unknown>)[field]
      // No value: in no partition of this field (an `equals` of a value never matches it).
      if (value === null || value === undefined) continue
      const spelt = this.spell(kind, value)
      if (spelt === undefined) return undefined
      if (spelt !== null) out.push(partitionStamp(scope, field, spelt))
    }
    return out
  }

  /**
   * The values an `in` on a relationship compares, as drizzle's `sanitizeQueryValue` widens
   * them with number ids: each text also as `parseInt` of it, which a relationship to custom
   * text ids then compares as text (`'12-x'` matches `'12-x'` and `'12'`; `'x'`, `'NaN'`).
   * For number and uuid targets the widened value is one the text already spells or none.
   */
  private widen(kind: PartitionKind, values: unknown[]): unknown[] {
    if (!this.widensIn || kind.kind !== 'id' || this.idKind(kind.target) !== 'text') return values
    return values.flatMap((value) => (typeof value === 'string' ? [value, String(parseInt(value))] : [value]))
  }

  /**
   * One spelling per value the database holds equal: the text of a string, an id as the
   * database returns it (a number id also from its decimal text, as REST passes it and SQL
   * casts it). Undefined for a value of another shape; null for one too long to be a stamp
   * key, which no read's partition can name either. A generated id is one only in the form
   * the adapter compares as that id: a uuid `uuid.validate` accepts in SQL (drizzle turns any
   * other text for a Postgres uuid column into `IS NULL`), an ObjectId in MongoDB (whose
   * adapter drops any other text, and the condition then matches documents with no value).
   */
  private spell(kind: PartitionKind, value: unknown): string | null | undefined {
    let text: string | undefined
    if (kind.kind === 'string') text = typeof value === 'string' ? value : undefined
    else {
      const idKind = this.idKind(kind.target)
      if (idKind === 'number' && typeof value === 'string') text = /^(0|-?[1-9]\d{0,14})$/.test(value) ? value : undefined
      else if (idKind === 'generated')
        text = typeof value === 'string' && (this.dialect === 'sql' ? VALID_UUID : OBJECT_ID).test(value) ? value : undefined
      else {
        const id = canonicalID(typeof value === 'string' || typeof value === 'number' ? value : undefined, idKind)
        text = id === undefined || (typeof id === 'number' && !Number.isSafeInteger(id)) ? undefined : String(id)
      }
    }
    if (text === undefined) return undefined
    // Bytes, not characters: the stamp key must stay within KV's 512 bytes with its prefix and scope.
    return text.length > MAX_VALUE_LENGTH || byteLength(text) > MAX_VALUE_LENGTH || text.includes('#') ? null : text
  }
}

function partitionKind(field: RawField, exactStrings: boolean): PartitionKind | undefined {
  if (field.localized === true || field.hasMany === true) return undefined
  if (field.type === 'relationship' || field.type === 'upload')
    return typeof field.relationTo === 'string' ? { kind: 'id', target: `c:${field.relationTo}` } : undefined
  if (!exactStrings || typeof field.type !== 'string' || !STRING_TYPES.has(field.type)) return undefined
  // A free text field (a title) is edited often and rarely filtered by: as a partition it
  // would key every list on it. Indexed or unique ones (a slug, an email) are what sites look up.
  if ((field.type === 'text' || field.type === 'email') && field.index !== true && field.unique !== true) return undefined
  return { kind: 'string' }
}

/** The fields stored at the top of a row: rows, collapsibles and unnamed tabs add no path segment. */
function topLevel(fields: ReadonlyArray<unknown>): RawField[] {
  const out: RawField[] = []
  for (const raw of fields) {
    if (raw === null || typeof raw !== 'object') continue
    const field = raw as RawField
    if (typeof field.name === 'string' && field.name) {
      out.push(field)
      continue
    }
    out.push(...topLevel(field.fields ?? []))
    for (const tab of field.tabs ?? []) if (typeof tab.name !== 'string' || !tab.name) out.push(...topLevel(tab.fields ?? []))
  }
  return out
}
