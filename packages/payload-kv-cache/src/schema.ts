import type { ConfigLike } from './dependencies.js'
import { DependencyGraph } from './dependencies.js'
import { keyNamespace } from './fingerprint.js'
import type { DocumentID, IDKind } from './invalidation/documents.js'
import { canonicalID, customIDKinds } from './invalidation/documents.js'
import { Partitions } from './invalidation/partitions.js'
import type { Scope } from './keys.js'
import type { ResolvedOptions } from './options.js'
import type { PathDialect } from './path-fields.js'
import { ReadPaths } from './paths.js'
import { CachePolicy } from './policy.js'

/** Payload's default `readReplicasAfterWriteInterval`: how long a replica may lag a write. */
const DEFAULT_REPLICA_WINDOW_MS = 2000

/** What the engine needs of the inner adapter instance. */
export interface InnerAdapter {
  name?: string
  sessions?: Record<string | number, unknown>
  [method: string]: unknown
}

/**
 * Everything derived from the sanitized config, rebuilt when Payload hot-reloads a changed
 * one: the dependency graph, what each read traverses, what is cached, how ids are spelt,
 * and the key namespace (adapter name, schema and adapter-option fingerprint, entry format and
 * stamp protocol versions: fingerprint.ts), so entries of another shape are never read.
 */
export class Schema {
  readonly graph: DependencyGraph
  readonly paths: ReadPaths
  readonly policy: CachePolicy
  readonly partitions: Partitions
  readonly keyNamespace: string
  private readonly customIDs: Map<string, IDKind>
  /** Collections with a versions table (`versions` set: drafts, or history alone). */
  private readonly versioned: Set<Scope>

  constructor(
    options: ResolvedOptions,
    config: ConfigLike,
    private readonly inner: InnerAdapter,
  ) {
    this.policy = new CachePolicy(options, config)
    this.graph = new DependencyGraph(config)
    const dialect = this.dialect()
    this.paths = new ReadPaths(config, dialect)
    this.customIDs = customIDKinds(config)
    this.versioned = new Set((config.collections ?? []).filter((c) => Boolean(c.versions)).map((c) => `c:${c.slug}` as const))
    this.partitions = new Partitions(config, {
      idKind: (scope) => this.idKind(scope),
      dialect,
      numberIDs: (inner as { defaultIDType?: unknown }).defaultIDType === 'number',
    })
    this.keyNamespace = keyNamespace(inner, config)
  }

  /** The id if it is the one spelling the database returns for its row (documents.ts). */
  canonicalID(scope: Scope, id: DocumentID | undefined): DocumentID | undefined {
    return canonicalID(id, this.idKind(scope))
  }

  /** Whether a collection keeps versions: a table (or MongoDB collection) of its own, with a `parent` column. */
  hasVersions(scope: Scope): boolean {
    return this.versioned.has(scope)
  }

  /**
   * The `parent` of one version, as the database has it, within the transaction `req`
   * carries (the inner adapter, never a cached answer); undefined when there is no such
   * version. What an `updateVersion` may move a version from (invalidation/stamp-writes.ts).
   */
  async readVersionParent(slug: string, id: DocumentID, req: unknown): Promise<unknown> {
    const findVersions = this.inner.findVersions as (args: Record<string, unknown>) => Promise<{ docs?: unknown[] }>
    const { docs } = await findVersions.call(this.inner, {
      collection: slug,
      where: { id: { equals: id } },
      // The one column: not the whole document the version holds.
      select: { parent: true },
      limit: 1,
      pagination: false,
      req,
    })
    const row = docs?.[0] as { parent?: unknown } | undefined
    return row?.parent
  }

  /** How the database compares a collection's ids (documents.ts, IDKind). */
  idKind(scope: Scope): IDKind {
    return (
      this.customIDs.get(scope.slice(2)) ??
      ((this.inner as { defaultIDType?: unknown }).defaultIDType === 'number' ? 'number' : 'generated')
    )
  }

  /**
   * Whether a read outside a transaction may come from a replica behind the primary:
   * drizzle's `readReplicas` (Postgres) or D1's `readReplicas: 'first-primary'`.
   */
  readsMayLag(): boolean {
    const inner = this.inner as { primaryDrizzle?: unknown; readReplicas?: unknown }
    return Boolean(inner.primaryDrizzle) || inner.readReplicas === 'first-primary'
  }

  /**
   * Drizzle adapters with `readReplicas` keep the primary in `primaryDrizzle` and send reads
   * to the primary for `readReplicasAfterWriteInterval` after a write in the same isolate:
   * Payload's own estimate of replication lag, which we take for every isolate. D1 with
   * `readReplicas: 'first-primary'` reads through a Sessions API session that is consistent
   * only with itself, so another isolate's write may not have reached the replica it reads;
   * D1 publishes no bound on that lag, and we take Payload's Postgres default for it.
   */
  replicaWindowMs(): number {
    const inner = this.inner as { primaryDrizzle?: unknown; readReplicasAfterWriteInterval?: unknown; readReplicas?: unknown }
    if (inner.readReplicas === 'first-primary') return DEFAULT_REPLICA_WINDOW_MS
    if (!inner.primaryDrizzle) return 0
    const interval = inner.readReplicasAfterWriteInterval
    return typeof interval === 'number' && interval > 0 ? interval : DEFAULT_REPLICA_WINDOW_MS
  }

  /**
   * A row as the database has it, within the transaction `req` carries: the inner adapter
   * itself (never a cached answer), no joins, no locale (every locale of a localized field).
   * List precision's before image (invalidation/stamp-writes.ts).
   */
  readRow(slug: string, id: DocumentID, req: unknown): Promise<unknown> {
    const findOne = this.inner.findOne as (args: Record<string, unknown>) => Promise<unknown>
    return findOne.call(this.inner, { collection: slug, where: { id: { equals: id } }, req, joins: false })
  }

  /**
   * The ids of at most two documents that match `where`, as an `upsert` on it finds the one it
   * updates (drizzle's and MongoDB's upsert update the first match, or create).
   */
  async matchingIDs(slug: string, where: unknown, locale: unknown, req: unknown): Promise<unknown[]> {
    const find = this.inner.find as (args: Record<string, unknown>) => Promise<{ docs?: unknown[] }>
    const { docs } = await find.call(this.inner, { collection: slug, where, locale, limit: 2, pagination: false, req, joins: false })
    return (docs ?? []).map((doc) => (doc as { id?: unknown } | null)?.id)
  }

  /** Locks the row until `req`'s transaction ends where the database needs it (see `lockRow`); false if it could not. */
  lockRow(slug: string, id: DocumentID, req: unknown): Promise<boolean> {
    return lockRow(this.inner, slug, id, req)
  }

  /**
   * Whose rules resolve paths and turn `where` values into what the database compares:
   * drizzle's (Postgres, SQLite, D1) or MongoDB's (path-fields.ts, partitions.ts). Read from
   * what every drizzle adapter sets in `init` (its `tableNameMap`), because the schema is
   * built before `connect`, which is what sets `drizzle`. Any other adapter gets MongoDB's
   * rules, the stricter ones: fewer own columns, no string partitions.
   */
  dialect(): PathDialect {
    return this.inner.tableNameMap instanceof Map || this.hasForeignKeys() ? 'sql' : 'mongodb'
  }

  /** Drizzle adapters (Postgres, SQLite, D1) keep relationships as foreign keys; Mongo does not. */
  hasForeignKeys(): boolean {
    return this.inner.drizzle !== undefined && this.inner.drizzle !== null
  }

  /** The key prefixes holding every entry a write to these scopes can change. */
  prefixesFor(prefix: string, scopes: readonly (Scope | '*')[]): string[] {
    if (scopes.includes('*')) return [`${prefix}:c:`, `${prefix}:g:`]
    const out = new Set<string>()
    for (const scope of scopes as Scope[]) {
      out.add(`${prefix}:${scope}:`)
      // Every reader, not only those this deploy caches: another deploy sharing the KV may cache them (README, Across deploys).
      for (const reader of this.graph.readersOfScope(scope)) out.add(`${prefix}:${reader}:`)
    }
    return [...out]
  }
}

/**
 * Postgres reads committed rows: between an update's before image and its write another
 * transaction could commit a change to the row, which the comparison would then miss (list
 * precision, invalidation/lists.ts). `SELECT ... FOR UPDATE` in the write's transaction holds
 * the row until it ends. SQLite takes its write lock at BEGIN, MongoDB fails a conflicting
 * transaction, and D1 has no transactions: nothing to do there. False when the row's table or
 * the transaction cannot be found: the caller then trusts no comparison.
 */
async function lockRow(inner: InnerAdapter, slug: string, id: DocumentID, req: unknown): Promise<boolean> {
  if (inner.name !== 'postgres' || typeof inner.execute !== 'function') return true
  const transactionID = await (req as { transactionID?: unknown } | undefined)?.transactionID
  const session = typeof transactionID === 'string' || typeof transactionID === 'number' ? inner.sessions?.[transactionID] : undefined
  const tx = (session as { db?: unknown } | undefined)?.db
  const tables = inner.tableNameMap
  const table: unknown = tables instanceof Map ? tables.get(snakeCase(slug)) : undefined
  if (!tx || typeof table !== 'string') return false
  const literal = typeof id === 'number' ? (Number.isSafeInteger(id) ? String(id) : undefined) : `'${id.replace(/'/g, "''")}'`
  if (literal === undefined) return false
  const schema = typeof inner.schemaName === 'string' && inner.schemaName ? `"${inner.schemaName.replace(/"/g, '""')}".` : ''
  await (inner.execute as (args: Record<string, unknown>) => Promise<unknown>).call(inner, {
    drizzle: tx,
    raw: `SELECT 1 FROM ${schema}"${table.replace(/"/g, '""')}" WHERE "id" = ${literal} FOR UPDATE`,
  })
  return true
}

/** The key drizzle's `tableNameMap` has for a slug (its `to-snake-case`): `blogPosts`, `blog-posts` → `blog_posts`. */
function snakeCase(slug: string): string {
  return slug
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toLowerCase()
}
