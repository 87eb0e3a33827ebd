import type { Scope } from './keys.js'
import type { FieldIndex, PathDialect, ScopeShape } from './path-fields.js'
import { shapeOf } from './path-fields.js'

/**
 * What one read actually traverses (ARCHITECTURE.md, read path step 2): the scopes that
 * its `where`, `sort`, `joins` (with their own `where` and `sort`) and `findDistinct` field
 * and `relatedAccess` reach through relationship, upload and join fields, resolved against
 * the sanitized config by the adapter's own rules (path-fields.ts).
 */

export interface ShapeConfig {
  collections?: ReadonlyArray<{ slug: string; fields?: ReadonlyArray<unknown>; defaultSort?: unknown }>
  globals?: ReadonlyArray<{ slug: string; fields?: ReadonlyArray<unknown> }>
  blocks?: ReadonlyArray<{ slug: string; fields?: ReadonlyArray<unknown> }>
  localization?: false | { localeCodes?: readonly string[]; locales?: ReadonlyArray<string | { code?: string }> }
}

const OPERATORS = new Set([
  'equals',
  'not_equals',
  'in',
  'not_in',
  'all',
  'exists',
  'greater_than',
  'greater_than_equal',
  'less_than',
  'less_than_equal',
  'like',
  'not_like',
  'contains',
  'near',
  'within',
  'intersects',
])

/**
 * A set of scopes that notes whether anything was added after the read's own scope, and the
 * top-level fields of the read's own collection its paths start at (what list precision
 * makes a read depend on: invalidation/lists.ts).
 */
class Traversal extends Set<Scope> {
  followed = false
  /** Top-level fields (a group, an array, a relationship's own column) the paths start at. */
  readonly fields = new Set<string>()
  /** False once a path starts at something that is not a stored field (a virtual field, a join, an unknown name). */
  understood = true

  constructor(initial: Scope[]) {
    super(initial)
    // Field initialisers run after `super`, whose own `add` calls set the flag.
    this.followed = false
  }

  override add(scope: Scope): this {
    this.followed = true
    return super.add(scope)
  }
}

/** What one read traverses (see `ReadPaths.traversal`). */
export interface ReadTraversal {
  /** The scopes it reads, its own included; sorted. */
  scopes: Scope[]
  /** No relationship, upload or join was followed, not even back into its own collection. */
  ownRowsOnly: boolean
  /** The top-level stored fields its `where`, `sort` and distinct field start at (`id` left out: it never changes). */
  fields: string[]
  /** Those its `where` alone starts at: what decides which documents match (lists.ts, complete answers). */
  whereFields: string[]
  /** Every path started at a stored field of the collection. */
  understood: boolean
}

const VERSION_OPERATIONS = new Set(['findVersions', 'countVersions', 'findGlobalVersions', 'countGlobalVersions'])

/**
 * Whether a read's paths are of the versions table: `versions` (a versions read, whose
 * document fields are under `version.`), `drafts` (`queryDrafts`: Payload spells them so, and
 * a collection may have a field named `version`), or false (the main table).
 */
type VersionsTable = false | 'versions' | 'drafts'

export class ReadPaths {
  private readonly shapes = new Map<Scope, ScopeShape>()
  /** A path may name a locale after a localized field (`title.de`, `group.en.author.name`). */
  private readonly locales: Set<string>

  /** `dialect`: whose rules resolve a path, drizzle's or MongoDB's (path-fields.ts). */
  constructor(config: ShapeConfig, dialect: PathDialect) {
    const blocks = new Map((config.blocks ?? []).map((block) => [block.slug, block]))
    for (const collection of config.collections ?? [])
      this.shapes.set(`c:${collection.slug}`, { ...shapeOf(collection.fields ?? [], blocks, dialect), defaultSort: collection.defaultSort })
    for (const global of config.globals ?? []) this.shapes.set(`g:${global.slug}`, shapeOf(global.fields ?? [], blocks, dialect))
    const localization = config.localization || undefined
    const codes =
      localization?.localeCodes ?? (localization?.locales ?? []).map((locale) => (typeof locale === 'string' ? locale : locale.code))
    this.locales = new Set(codes.filter((code): code is string => typeof code === 'string'))
  }

  /** The scopes a read of `scope` with these arguments traverses, itself included; sorted. */
  dependenciesOfCall(operation: string, scope: Scope, args: Record<string, unknown>): Scope[] {
    return this.traversal(operation, scope, args).scopes
  }

  /**
   * The scopes a read traverses, and whether it reads its own rows only: no relationship,
   * upload or join was followed, not even back into its own collection (a `parent.title`
   * path reads other documents of the same collection).
   */
  traversal(operation: string, scope: Scope, args: Record<string, unknown>): ReadTraversal {
    const shape = this.shapes.get(scope)
    if (!shape) return { scopes: [scope], ownRowsOnly: false, fields: [], whereFields: [], understood: false }
    const out = new Traversal([scope])
    const whereFields = this.collect(operation, scope, shape, args, out)
    return {
      scopes: [...out].sort(),
      ownRowsOnly: !out.followed,
      fields: [...out.fields].sort(),
      whereFields: [...whereFields].sort(),
      understood: out.understood,
    }
  }

  /**
   * The top-level fields of a collection whose stored value a list can filter or sort on:
   * every named field but joins and virtual fields (neither is a column of its rows).
   */
  storedFields(scope: Scope): string[] {
    const shape = this.shapes.get(scope)
    if (!shape) return []
    const out: string[] = []
    for (const [name, node] of shape.fields) if (node.kind !== 'join' && !node.virtual) out.push(name)
    return out
  }

  /** Whether a collection stores this top-level field (see `storedFields`). */
  hasStoredField(scope: Scope, name: string): boolean {
    const node = this.shapes.get(scope)?.fields.get(name)
    return node !== undefined && node.kind !== 'join' && !node.virtual
  }

  /** Collects what the read traverses into `out`; returns the fields its `where` alone starts at. */
  private collect(operation: string, scope: Scope, shape: ScopeShape, args: Record<string, unknown>, out: Traversal): Set<string> {
    for (const target of shape.virtualTargets) out.add(target)
    const versions: VersionsTable = VERSION_OPERATIONS.has(operation) ? 'versions' : operation === 'queryDrafts' ? 'drafts' : false
    this.where(scope, args.where, out, versions)
    const whereFields = new Set(out.fields)
    // Without a sort the adapters use the collection's defaultSort.
    this.sort(scope, args.sort ?? shape.defaultSort, out, versions)
    if (operation === 'findDistinct' && typeof args.field === 'string') this.path(scope, args.field, out, versions)
    if (operation === 'findDistinct') this.relatedAccess(scope, args.relatedAccess, out)
    if (versions !== 'versions') this.joins(scope, shape, args.joins, args.select, out)
    return whereFields
  }

  private joins(scope: Scope, shape: ScopeShape, joins: unknown, select: unknown, out: Traversal): void {
    if (joins === false || shape.joins.length === 0) return
    const requested = joins !== null && typeof joins === 'object' ? (joins as Record<string, unknown>) : {}
    for (const join of shape.joins) {
      const query = requested[join.path]
      // `joins: { posts: false }` turns one join off; anything else resolves it.
      if (query === false) continue
      // The adapters skip a join the `select` leaves out: its documents are not in the result.
      if (!selects(select, join.path)) continue
      const { where, sort } = query !== null && typeof query === 'object' ? (query as { where?: unknown; sort?: unknown }) : {}
      for (const target of join.targets) {
        out.add(target)
        this.where(target, where, out, false)
        // Without a sort a join uses its field's defaultSort, else the joined collection's.
        this.sort(target, sort ?? join.defaultSort ?? this.shapes.get(target)?.defaultSort, out, false)
      }
    }
    void scope
  }

  /**
   * `findDistinct`'s `relatedAccess` (Payload 3.90+): the read access of each collection the
   * distinct field's path reaches, a `where` on that collection's fields keyed by the
   * relationship path (`{ author: { 'favourite.title': ... } }`). The adapter joins the related
   * rows under it (MongoDB's `$lookup`), whatever the `where` names, so the relationship is
   * followed, then the `where` is read beneath it as Payload's `prefixWherePaths` spells it.
   * Payload also folds it into `where`, but the adapter reads it on its own: so does this.
   */
  private relatedAccess(scope: Scope, relatedAccess: unknown, out: Traversal): void {
    if (relatedAccess === null || typeof relatedAccess !== 'object') return
    for (const [path, where] of Object.entries(relatedAccess)) {
      // An empty last segment: the related rows, not the relationship's own column.
      this.path(scope, `${path}.`, out, false)
      this.where(scope, beneath(path, where), out, false)
    }
  }

  private where(scope: Scope, where: unknown, out: Traversal, versions: VersionsTable, base = ''): void {
    if (where === null || typeof where !== 'object') return
    if (Array.isArray(where)) {
      for (const part of where) this.where(scope, part, out, versions, base)
      return
    }
    for (const [key, value] of Object.entries(where)) {
      // The adapters compare these case-insensitively.
      if (!base && (key.toLowerCase() === 'and' || key.toLowerCase() === 'or')) {
        this.where(scope, value, out, versions)
        continue
      }
      // At the top every key is a path, even a field named like an operator (`in`, `near`).
      if (base && OPERATORS.has(key)) continue
      const path = base ? `${base}.${key}` : key
      this.path(scope, path, out, versions)
      // `{ author: { name: { equals } } }`: keys that are not operators continue the path.
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) this.where(scope, value, out, versions, path)
    }
  }

  private sort(scope: Scope, sort: unknown, out: Traversal, versions: VersionsTable): void {
    const list = typeof sort === 'string' ? sort.split(',') : Array.isArray(sort) ? sort : []
    for (const entry of list) {
      if (typeof entry === 'string') this.path(scope, entry.trim().replace(/^[-+]/, ''), out, versions)
    }
  }

  private path(scope: Scope, path: string, out: Traversal, versions: VersionsTable): void {
    // Payload accepts `__` for `.` in paths (`author__name`).
    let segments = path.replace(/__/g, '.').split('.')
    if (versions && segments[0] === 'parent') {
      // The versions table's own column (the document's id; a field of the document named
      // `parent` is `version.parent` there). A path beyond it reads the document's main row.
      if (segments.length > 1) {
        out.add(scope)
        this.resolve(scope, segments.slice(1), out, 0)
      }
      return
    }
    // Version reads, and draft reads (which query the versions table), address the
    // document's fields under `version.`.
    if (segments[0] === 'version' && (versions === 'versions' || !this.shapes.get(scope)?.fields.has('version')))
      segments = segments.slice(1)
    const first = segments[0] ?? ''
    if (first !== 'id') {
      if (this.hasStoredField(scope, first)) out.fields.add(first)
      else out.understood = false
    }
    this.resolve(scope, segments, out, 0)
  }

  private resolve(scope: Scope, segments: string[], out: Set<Scope>, depth: number): void {
    const shape = this.shapes.get(scope)
    // Deep enough to be a cycle through virtual paths: stop, the caller has its scopes.
    if (!shape || depth > 16) return
    let fields: FieldIndex | undefined = shape.fields
    for (let i = 0; i < segments.length && fields; i++) {
      const node = fields.get(segments[i]!)
      if (!node) {
        // A locale code after a localized field: the path goes on below it.
        if (this.locales.has(segments[i]!)) continue
        return
      }
      const rest = segments.slice(i + 1)
      if (node.virtual) {
        this.resolve(scope, [...node.virtual.split('.'), ...rest], out, depth + 1)
        return
      }
      if (node.kind === 'relation') {
        // `author.de.name`: a localized relationship names its locale first.
        const beyond = node.localized && rest.length > 0 && this.locales.has(rest[0]!) ? rest.slice(1) : rest
        // What stays in the row's own column or `_rels` rows, by the adapter's rules.
        if (beyond.length === 0 || (beyond.length === 1 && node.own?.has(beyond[0]!))) return
        for (const target of node.targets ?? []) {
          out.add(target)
          this.resolve(target, beyond, out, depth + 1)
        }
        return
      }
      if (node.kind === 'join') {
        for (const target of node.targets ?? []) {
          out.add(target)
          if (rest.length > 0) this.resolve(target, rest, out, depth + 1)
        }
        return
      }
      fields = node.children
    }
  }
}

/** A `where` on a related collection's fields, as paths from the collection that relates to it. */
function beneath(prefix: string, where: unknown): unknown {
  if (where === null || typeof where !== 'object') return undefined
  if (Array.isArray(where)) return where.map((part) => beneath(prefix, part))
  return Object.fromEntries(
    Object.entries(where).map(([key, value]) => (/^(and|or)$/i.test(key) ? [key, beneath(prefix, value)] : [`${prefix}.${key}`, value])),
  )
}

/**
 * Whether a `select` keeps the field at `path`, as the adapters read it (Payload's
 * `getSelectMode`: any `false`, at any depth, makes it an exclusion). Decided on the first
 * path segment only: below it, arrays and blocks (keyed by block slug) change the shape, and
 * a field this cannot rule out counts as selected.
 */
export function selects(select: unknown, path: string): boolean {
  if (select === null || typeof select !== 'object' || Object.keys(select).length === 0) return true
  const value = (select as Record<string, unknown>)[path.split('.')[0]!]
  return selectMode(select as Record<string, unknown>) === 'exclude' ? value !== false : value !== undefined && value !== false
}

function selectMode(select: Record<string, unknown>): 'include' | 'exclude' {
  for (const value of Object.values(select)) {
    if (value === false) return 'exclude'
    if (value !== null && typeof value === 'object' && selectMode(value as Record<string, unknown>) === 'exclude') return 'exclude'
  }
  return 'include'
}
