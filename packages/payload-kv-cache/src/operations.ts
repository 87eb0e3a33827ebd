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

export const FLUSH_OPERATIONS = [
  'migrate',
  'migrateDown',
  'migrateFresh',
  'migrateRefresh',
  'migrateReset',
  'execute',
  'dropDatabase',
] as const

/**
 * Methods known to need nothing from the cache. Any other function is still forwarded, but
 * logged once, because a new Payload version may have added a read or write we should know.
 */
export const PASS_OPERATIONS = new Set<string>([
  'init',
  'connect',
  'destroy',
  'createMigration',
  'migrateStatus',
  'generateSchema',
  'createDatabase',
  'requireDriverCompatibility',
  'resolveInitializing',
  'rejectInitializing',
  'getMigrationTemplate',
  'defaultDrizzleSnapshot',
  'createJSONQuery',
  'convertPathToJSONTraversal',
  'countDistinct',
  'deleteWhere',
  'insert',
  'findMany',
  'fieldConstraints',
  'deleteManyVersions',
])

export type ReadOperation = (typeof READ_OPERATIONS)[number]
export type WriteOperation = (typeof WRITE_OPERATIONS)[number]
export type TransactionOperation = (typeof TRANSACTION_OPERATIONS)[number]
export type FlushOperation = (typeof FLUSH_OPERATIONS)[number]

export type OperationKind = 'read' | 'write' | 'transaction' | 'flush'

const KINDS = new Map<string, OperationKind>([
  ...READ_OPERATIONS.map((name) => [name, 'read'] as const),
  ...WRITE_OPERATIONS.map((name) => [name, 'write'] as const),
  ...TRANSACTION_OPERATIONS.map((name) => [name, 'transaction'] as const),
  ...FLUSH_OPERATIONS.map((name) => [name, 'flush'] as const),
])

export function kindOf(name: string): OperationKind | undefined {
  return KINDS.get(name)
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
