import { afterAll, beforeAll } from '@jest/globals'
import type { KVServer, PostgresServer } from '@pkc/testkit'
import { startKV, startPostgres } from '@pkc/testkit'
import type { KVCacheOptions, KVNamespaceLike } from '../../src/index.js'
import type { TestHooks } from '../../src/internals.js'
import { withTestHooks } from '../../src/internals.js'
import type { Database, DatabaseKind, Pair } from './app.js'
import { createDatabase, startPair } from './app.js'
import { skippingClock } from './clock.js'
import type { D1Pool } from './d1.js'
import { startD1 } from './d1.js'
import { payloadUnderTest } from './payload-version.js'

/** Cache options plus the test hooks (`clock`, `random`), which reach the cache through `withTestHooks`. */
export interface PairOptions extends Omit<KVCacheOptions, 'kv'>, TestHooks {
  /** Wrap the real namespace (counting, faults) before the cache sees it. */
  wrapKV?: (kv: KVNamespaceLike) => KVNamespaceLike
  /** SQLite only: turn on transactions (off by default in @payloadcms/db-sqlite). */
  transactions?: boolean
}

export interface TestEnv {
  kind: DatabaseKind
  /** The invalidation strategy every pair of this env uses. */
  strategy: 'stamp' | 'prefix'
  kv(): KVNamespaceLike
  /** A fresh database and a wrapped plus an unwrapped Payload on it; stopped after the file. */
  newPair(options?: PairOptions): Promise<Pair>
  /** A fresh database, for tests that build their own instances on it. */
  newDatabase(options?: { transactions?: boolean }): Promise<Database>
}

let prefixes = 0

// Drizzle skips its dev push when the schema equals the last one pushed in this process,
// which would leave every database after the first without tables.
process.env.PAYLOAD_FORCE_DRIZZLE_PUSH = 'true'

/** Starts KV (and Postgres) once for the test file, and stops everything after it. */
export function useTestEnv(kind: DatabaseKind): TestEnv {
  let kvServer: KVServer | undefined
  let postgres: PostgresServer | undefined
  let d1: D1Pool | undefined
  const pairs: Pair[] = []

  beforeAll(async () => {
    // `pnpm test:payload-latest`: say (and check) which Payload this file runs on.
    if (process.env.PKC_PAYLOAD_DIR) console.log(await payloadUnderTest(process.env.PKC_PAYLOAD_DIR))
    kvServer = await startKV()
    if (kind === 'postgres') postgres = await startPostgres()
    if (kind === 'd1') d1 = await startD1()
  })

  afterAll(async () => {
    for (const pair of pairs) await pair.stop().catch(() => undefined)
    await kvServer?.dispose()
    await postgres?.stop()
    await d1?.dispose()
  })

  const env: TestEnv = {
    kind,
    strategy: 'stamp',
    kv: () => kvServer!.kv,
    newDatabase: (options) => createDatabase(kind, { postgres, d1 }, options),
    async newPair(options = {}) {
      const { wrapKV, transactions, clock, random, ...cacheOptions } = options
      const database = await createDatabase(kind, { postgres, d1 }, { transactions })
      const kv = wrapKV ? wrapKV(kvServer!.kv) : kvServer!.kv
      // Each pair gets its own prefix: the file's suites share one namespace, like sites do.
      // The clock skips the second between coalesced stamp writes; tests about timing pass
      // their own.
      const pair = await startPair(
        database,
        kv,
        withTestHooks({ prefix: `t${prefixes++}`, ...cacheOptions }, { clock: clock ?? skippingClock(), random }),
      )
      pairs.push(pair)
      return pair
    },
  }
  return env
}

/** The same servers, with every new pair using `strategy`. */
export function withStrategy(env: TestEnv, strategy: TestEnv['strategy']): TestEnv {
  return { ...env, strategy, newPair: (options = {}) => env.newPair({ invalidation: strategy, ...options }) }
}
