/** The operation table (ARCHITECTURE.md, Wrapping): how the wrapper treats each adapter method. */

export const READ_OPERATIONS = [
  'find',
  'findOne',
  'count',
  'findDistinct',
  'queryDrafts',
  'findVersions',
  'countVersions',
  'findGlobal',
  'findGlobalVersions',
  'countGlobalVersions',
] as const

export const WRITE_OPERATIONS = [
  'create',
  'updateOne',
  'updateMany',
  'upsert',
  'deleteOne',
  'deleteMany',
  'createVersion',
  'updateVersion',
  'deleteVersions',
  'createGlobal',
  'updateGlobal',
  'createGlobalVersion',
  'updateGlobalVersion',
  'updateJobs',
] as const

/** Writes that delete rows: on SQL, foreign keys also change the rows that pointed at them. */
export const DELETE_OPERATIONS: ReadonlySet<string> = new Set(['deleteOne', 'deleteMany', 'deleteVersions'])

export const TRANSACTION_OPERATIONS = ['beginTransaction', 'commitTransaction', 'rollbackTransaction'] as const

/**
 * Writes the wrapper cannot scope: migrations, raw SQL, dropping the database, and drizzle's
 * row helpers `insert` and `deleteWhere` (by table name; Payload's own calls reach them through
 * `this`, which the wrapper never sees, so only a caller outside the adapter is counted).
 */
export const FLUSH_OPERATIONS = [
  'migrate',
  'migrateDown',
  'migrateFresh',
  'migrateRefresh',
  'migrateReset',
  'execute',
  'dropDatabase',
  'insert',
  'deleteWhere',
] as const

/**
 * Methods known to need nothing from the cache (README, Limits: unknown adapter methods), each
 * checked on the adapters' sources: lifecycle (`init`, `connect`, `destroy`, their
 * initialising promise), schema and migration files and the database or extensions they
 * create (no row a read returns), drizzle's query builders, and reads the cache does not serve
 * (`countDistinct`, `migrateStatus`). `lifecycle.test.ts` checks that every method of the real
 * adapters is named here or in the table above. Any other function is an unknown method,
 * which may write anything: it invalidates everything (`WritePath.unknown`).
 */
export const PASS_OPERATIONS: ReadonlySet<string> = new Set<string>([
  'init',
  'connect',
  'destroy',
  'resolveInitializing',
  'rejectInitializing',
  'createDatabase',
  'createExtensions',
  'createMigration',
  'generateSchema',
  'migrateStatus',
  'requireDrizzleKit',
  'createJSONQuery',
  'convertPathToJSONTraversal',
  'countDistinct',
  // MongoDB's connection hooks, functions when the config gives them; its `connect` calls them.
  'afterCreateConnection',
  'afterOpenConnection',
])

export type ReadOperation = (typeof READ_OPERATIONS)[number]
export type WriteOperation = (typeof WRITE_OPERATIONS)[number]
export type TransactionOperation = (typeof TRANSACTION_OPERATIONS)[number]
export type FlushOperation = (typeof FLUSH_OPERATIONS)[number]

/**
 * How the wrapper treats a method: a read it caches, a write it invalidates for, a transaction
 * boundary, a write of everything (`flush`), one it forwards as it is (`pass`), or one it does
 * not know (`unknown`: forwarded, then everything is invalidated).
 */
export type OperationKind = 'read' | 'write' | 'transaction' | 'flush' | 'pass' | 'unknown'

const KINDS = new Map<string, OperationKind>([
  ...READ_OPERATIONS.map((name) => [name, 'read'] as const),
  ...WRITE_OPERATIONS.map((name) => [name, 'write'] as const),
  ...TRANSACTION_OPERATIONS.map((name) => [name, 'transaction'] as const),
  ...FLUSH_OPERATIONS.map((name) => [name, 'flush'] as const),
  ...[...PASS_OPERATIONS].map((name) => [name, 'pass'] as const),
])

export function kindOf(name: string): OperationKind {
  return KINDS.get(name) ?? 'unknown'
}

export type ScopeRef = { kind: 'collection' | 'global'; slug: string }

const GLOBAL_READS = new Set<string>(['findGlobal', 'findGlobalVersions', 'countGlobalVersions'])
const GLOBAL_WRITES = new Set<string>(['createGlobal', 'updateGlobal', 'createGlobalVersion', 'updateGlobalVersion'])

/**
 * The collection or global a call touches. The slug lives under a different name per method
 * (payload-notes: "Slug field names"), so each is checked in the order the types give.
 */
export function scopeOfCall(operation: string, args: Record<string, unknown> | undefined): ScopeRef | undefined {
  if (!args) return undefined
  if (operation === 'updateJobs') return { kind: 'collection', slug: 'payload-jobs' }
  if (GLOBAL_READS.has(operation) || GLOBAL_WRITES.has(operation)) {
    const slug = args.slug ?? args.global ?? args.globalSlug
    return typeof slug === 'string' ? { kind: 'global', slug } : undefined
  }
  if (operation === 'deleteVersions' && typeof args.globalSlug === 'string' && !args.collection) {
    return { kind: 'global', slug: args.globalSlug }
  }
  const slug = args.collection ?? args.collectionSlug
  return typeof slug === 'string' ? { kind: 'collection', slug } : undefined
}
