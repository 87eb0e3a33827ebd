/**
 * @pkc/testkit: what the library's tests (packages/payload-kv-cache/test), the bench
 * (packages/bench) and the examples share, written once. Private to this workspace; its
 * TypeScript sources are imported as they are (tsx, ts-jest), like @pkc-examples/magazine.
 */
export type { CountingKV, KVCounts, KVServer, PlantOptions } from './kv.js'
export { countingKV, diff, plant, startKV } from './kv.js'
export type { PostgresServer, StartPostgresOptions } from './postgres.js'
export { startPostgres } from './postgres.js'
export { random, zipf } from './random.js'
export { closePayload } from './payload.js'
export { lookupsOf, mean, median, quantile } from './stats.js'
