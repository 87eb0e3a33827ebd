import type { Scope } from './keys.js'

/** The parts of Payload's sanitized config the dependency graph reads. */
export interface ConfigLike {
  collections?: ReadonlyArray<{ slug: string; fields?: ReadonlyArray<unknown>; auth?: unknown; versions?: unknown }>
  globals?: ReadonlyArray<{ slug: string; fields?: ReadonlyArray<unknown> }>
  blocks?: ReadonlyArray<{ slug: string; fields?: ReadonlyArray<unknown> }>
}

type FieldLike = {
  type?: string
  relationTo?: string | string[]
  collection?: string | string[]
  fields?: ReadonlyArray<unknown>
  tabs?: ReadonlyArray<{ fields?: ReadonlyArray<unknown> }>
  blocks?: ReadonlyArray<{ slug?: string; fields?: ReadonlyArray<unknown> }>
  blockReferences?: ReadonlyArray<string | { slug?: string; fields?: ReadonlyArray<unknown> }>
}

/**
 * Which scopes a read of each scope depends on. A read of A can change when B changes if A
 * reaches B through a relationship or upload (filters, sorts and `where` paths traverse it;
 * SQL foreign keys cascade or set null on delete) or a join (resolved inside the adapter
 * query, polymorphic joins included). For now every scope reachable from A, transitively,
 * counts here; a read's own dependencies come from `ReadPaths`, a subset of these. Population at depth is not a dependency: Payload
 * populates through separate reads, cached under their own scope.
 */
export class DependencyGraph {
  private readonly readersOf = new Map<Scope, Set<Scope>>()
  /** Scopes holding a relationship or upload column that points at the key. */
  private readonly referrers = new Map<Scope, Set<Scope>>()

  constructor(config: ConfigLike) {
    const edges = new Map<Scope, Set<Scope>>()
    const blocks = new Map((config.blocks ?? []).map((block) => [block.slug, block]))
    const add = (scope: Scope, fields: ReadonlyArray<unknown>): void => {
      const relations = new Set<Scope>()
      edges.set(scope, targetsOf(fields, blocks, relations))
      for (const target of relations) {
        let set = this.referrers.get(target)
        if (!set) this.referrers.set(target, (set = new Set()))
        set.add(scope)
      }
    }
    for (const collection of config.collections ?? []) add(`c:${collection.slug}`, collection.fields ?? [])
    for (const global of config.globals ?? []) add(`g:${global.slug}`, global.fields ?? [])
    for (const scope of edges.keys()) {
      const seen = new Set<Scope>([scope])
      const queue: Scope[] = [scope]
      while (queue.length > 0) {
        const next = queue.pop()!
        for (const target of edges.get(next) ?? []) {
          if (!seen.has(target) && edges.has(target)) {
            seen.add(target)
            queue.push(target)
          }
        }
      }
      for (const dependency of seen) {
        let readers = this.readersOf.get(dependency)
        if (!readers) this.readersOf.set(dependency, (readers = new Set()))
        readers.add(scope)
      }
    }
  }

  /** The scopes whose reads change when `scope` is written. */
  readersOfScope(scope: Scope): ReadonlySet<Scope> {
    return this.readersOf.get(scope) ?? new Set([scope])
  }

  /** Scopes whose own rows change on SQL when a document of `scope` is deleted (foreign keys). */
  referrersOf(scope: Scope): ReadonlySet<Scope> {
    return this.referrers.get(scope) ?? new Set()
  }
}

function targetsOf(
  fields: ReadonlyArray<unknown>,
  blocks: Map<string, { fields?: ReadonlyArray<unknown> }>,
  relations: Set<Scope>,
): Set<Scope> {
  const out = new Set<Scope>()
  const seenBlocks = new Set<string>()
  const walk = (list: ReadonlyArray<unknown>): void => {
    for (const raw of list) {
      if (raw === null || typeof raw !== 'object') continue
      const field = raw as FieldLike
      if (field.type === 'relationship' || field.type === 'upload') {
        addTargets(out, field.relationTo)
        addTargets(relations, field.relationTo)
      }
      if (field.type === 'join') addTargets(out, field.collection)
      if (field.fields) walk(field.fields)
      for (const tab of field.tabs ?? []) walk(tab.fields ?? [])
      for (const block of field.blocks ?? []) walk(block.fields ?? [])
      for (const reference of field.blockReferences ?? []) {
        const block = typeof reference === 'string' ? blocks.get(reference) : reference
        const slug = typeof reference === 'string' ? reference : reference.slug
        if (!block || (slug !== undefined && seenBlocks.has(slug))) continue
        if (slug !== undefined) seenBlocks.add(slug)
        walk(block.fields ?? [])
      }
    }
  }
  walk(fields)
  return out
}

function addTargets(out: Set<Scope>, relationTo: string | string[] | undefined): void {
  if (typeof relationTo === 'string') out.add(`c:${relationTo}`)
  else if (Array.isArray(relationTo)) for (const slug of relationTo) out.add(`c:${slug}`)
}
