import type { Scope } from './keys.js'

/*
 * Payload's field tree as the database adapters resolve a path through it: which segments
 * stay in the collection's own rows and which cross into another collection's. A path taken
 * for an own column while the adapter reads another collection's rows would leave a cached
 * list stale after a write to those rows, so the rules are the adapters' own, read from their
 * source (3.87.1): drizzle's `getTableColumnFromPath` (Postgres, SQLite, D1), and for MongoDB
 * Payload's `getLocalizedPaths` with the adapter's `buildSearchParam`, `buildSortParam` and
 * `findDistinct`. Where the two differ, each dialect keeps its own; where a form is unclear, it
 * is taken as crossing (a dependency too many costs hits, one too few serves stale data).
 */

/** Whose rules resolve a path: drizzle's (SQL) or MongoDB's. */
export type PathDialect = 'sql' | 'mongodb'

type RawField = {
  name?: string
  defaultSort?: unknown
  type?: string
  relationTo?: string | string[]
  collection?: string | string[]
  hasMany?: boolean
  localized?: boolean
  virtual?: boolean | string
  fields?: ReadonlyArray<unknown>
  tabs?: ReadonlyArray<{ name?: string; localized?: boolean; fields?: ReadonlyArray<unknown> }>
  blocks?: ReadonlyArray<{ slug?: string; fields?: ReadonlyArray<unknown> }>
  blockReferences?: ReadonlyArray<string | { slug?: string; fields?: ReadonlyArray<unknown> }>
}

export interface FieldNode {
  kind: 'relation' | 'join' | 'container' | 'leaf'
  /** Relationship, upload and join targets. */
  targets?: Scope[]
  /**
   * Relationships and uploads: the one segment that may follow the field in a path and still
   * read only the row's own column or `_rels` rows (the field alone always does). See
   * `ownSubPaths`.
   */
  own?: ReadonlySet<string>
  /**
   * Relationships and uploads: a locale code right after the field names the locale
   * (`author.de.name`), as Payload's `fieldShouldBeLocalized` says: localized, under no
   * localized group, array, blocks or tab. Otherwise the adapters take it for a field of the
   * related collection.
   */
  localized?: boolean
  /** Group, named tab, array and blocks contents. */
  children?: FieldIndex
  /** A virtual field linked to a path (`virtual: 'author.name'`), resolved from the root. */
  virtual?: string
}

export type FieldIndex = Map<string, FieldNode>

export interface JoinField {
  path: string
  targets: Scope[]
  /** The join field's own `defaultSort`, used when the call gives none. */
  defaultSort?: unknown
}

export interface ScopeShape {
  fields: FieldIndex
  /** The collection's `defaultSort`: adapters sort by it when a call gives no sort. */
  defaultSort?: unknown
  joins: JoinField[]
  /** Targets of virtual fields linked through relationships: read whatever the call asks. */
  virtualTargets: Set<Scope>
}

type Blocks = Map<string, { fields?: ReadonlyArray<unknown> }>

const POLYMORPHIC_OWN: ReadonlySet<string> = new Set(['value', 'relationTo'])
const SQL_OWN: ReadonlySet<string> = new Set(['id'])
const MONGODB_OWN: ReadonlySet<string> = new Set()

/**
 * The segment that may follow a relationship or upload in a path and still read only the
 * row's own data (the field alone always does, in both adapters).
 * - One target, `hasMany` or not: drizzle reads `author` and `author.id` from the row's own
 *   column (or its `_rels` rows), and joins the related table for anything else, so
 *   `author.value` and `author.relationTo` are fields of the related collection. MongoDB hands
 *   everything after `author` to the related collection (`getLocalizedPaths`), and
 *   `buildSearchParam` answers `author.id` by querying that collection and keeping the rows
 *   whose related document it found: a deleted author drops its posts from the result,
 *   though their `author` still holds its id. Only `author` itself is the row's own there.
 * - Several targets (polymorphic): both read `owner`, `owner.value` and `owner.relationTo`
 *   from the row's own data; drizzle refuses any other sub-path and MongoDB does not follow
 *   one, and what is left is taken as crossing into every target.
 */
function ownSubPaths(field: RawField, dialect: PathDialect): ReadonlySet<string> {
  if (typeof field.relationTo !== 'string') return POLYMORPHIC_OWN
  return dialect === 'sql' ? SQL_OWN : MONGODB_OWN
}

export function shapeOf(fields: ReadonlyArray<unknown>, blocks: Blocks, dialect: PathDialect): ScopeShape {
  const joins: JoinField[] = []
  const virtualTargets = new Set<Scope>()
  const index = indexOf(fields, { blocks, dialect, joins }, '', new Set(), false)
  // Virtual fields linked to a relationship path: their first segment names the relationship.
  for (const [, node] of index) {
    if (!node.virtual) continue
    const first = index.get(node.virtual.split('.')[0]!)
    for (const target of first?.targets ?? []) virtualTargets.add(target)
  }
  return { fields: index, joins, virtualTargets }
}

interface IndexContext {
  blocks: Blocks
  dialect: PathDialect
  joins: JoinField[]
}

/**
 * One level of the field tree. `localized`: a group, array, blocks or tab above is localized,
 * which makes the fields below it no longer localized on their own (`fieldShouldBeLocalized`).
 */
function indexOf(
  list: ReadonlyArray<unknown>,
  context: IndexContext,
  prefix: string,
  seenBlocks: Set<string>,
  localized: boolean,
): FieldIndex {
  const index: FieldIndex = new Map()
  const add = (raw: unknown, underLocalized: boolean): void => {
    if (raw === null || typeof raw !== 'object') return
    const field = raw as RawField
    // Rows, collapsibles and unnamed tabs add no path segment: their fields sit in the parent.
    if (!field.name) {
      for (const child of field.fields ?? []) add(child, underLocalized)
      for (const tab of field.tabs ?? []) {
        const inner = underLocalized || tab.localized === true
        if (tab.name)
          index.set(tab.name, {
            kind: 'container',
            children: indexOf(tab.fields ?? [], context, `${prefix}${tab.name}.`, seenBlocks, inner),
          })
        else for (const child of tab.fields ?? []) add(child, inner)
      }
      return
    }
    const path = `${prefix}${field.name}`
    const virtual = typeof field.virtual === 'string' ? field.virtual : undefined
    const below = underLocalized || field.localized === true
    if (field.type === 'relationship' || field.type === 'upload') {
      index.set(field.name, {
        kind: 'relation',
        targets: scopesOf(field.relationTo),
        own: ownSubPaths(field, context.dialect),
        localized: field.localized === true && !underLocalized,
        virtual,
      })
    } else if (field.type === 'join') {
      const targets = scopesOf(field.collection)
      context.joins.push({ path, targets, defaultSort: field.defaultSort })
      index.set(field.name, { kind: 'join', targets })
    } else if (field.type === 'blocks') {
      const children: FieldIndex = new Map()
      const inner = [...(field.blocks ?? [])]
      for (const reference of field.blockReferences ?? []) {
        const block = typeof reference === 'string' ? context.blocks.get(reference) : reference
        const slug = typeof reference === 'string' ? reference : reference.slug
        if (!block || (slug !== undefined && seenBlocks.has(slug))) continue
        inner.push(block)
      }
      for (const block of inner) {
        const nested = new Set(seenBlocks)
        if (block.slug) nested.add(block.slug)
        // Blocks can reuse a field name with another type: the adapters try every block.
        for (const [name, node] of indexOf(block.fields ?? [], context, `${path}.`, nested, below))
          children.set(name, merge(children.get(name), node))
      }
      index.set(field.name, { kind: 'container', children, virtual })
    } else if (field.fields) {
      index.set(field.name, { kind: 'container', children: indexOf(field.fields, context, `${path}.`, seenBlocks, below), virtual })
    } else {
      index.set(field.name, { kind: 'leaf', virtual })
    }
  }
  for (const raw of list) add(raw, localized)
  return index
}

/**
 * One name in several blocks: the kind that reaches further wins, the targets and children of
 * both are kept, and only what both read as their own stays own (a sub-path one block's field
 * resolves into another collection is taken as crossing).
 */
function merge(a: FieldNode | undefined, b: FieldNode): FieldNode {
  if (!a) return b
  const targets = [...new Set([...(a.targets ?? []), ...(b.targets ?? [])])]
  let children: FieldIndex | undefined
  if (a.children || b.children) {
    children = new Map(a.children ?? [])
    for (const [name, node] of b.children ?? []) children.set(name, merge(children.get(name), node))
  }
  const rank = { relation: 3, join: 2, container: 1, leaf: 0 } as const
  const kind = rank[a.kind] >= rank[b.kind] ? a.kind : b.kind
  const own = a.own && b.own ? new Set([...a.own].filter((path) => b.own!.has(path))) : (a.own ?? b.own)
  const localized =
    a.kind === 'relation' && b.kind === 'relation' ? a.localized === true && b.localized === true : (a.localized ?? b.localized)
  return { kind, targets: targets.length > 0 ? targets : undefined, own, localized, children, virtual: a.virtual ?? b.virtual }
}

function scopesOf(relationTo: string | string[] | undefined): Scope[] {
  if (typeof relationTo === 'string') return [`c:${relationTo}`]
  return Array.isArray(relationTo) ? relationTo.map((slug) => `c:${slug}` as const) : []
}
