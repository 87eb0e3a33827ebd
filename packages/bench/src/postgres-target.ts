/**
 * Section 1 on Postgres: the magazine's REST API served twice from Node over one embedded
 * Postgres database, uncached and cached, as `pnpm demo` does. Also where section 5's heap
 * is read, since this Node process is the isolate holding the cache.
 */
import { postgresAdapter } from '@payloadcms/db-postgres'
import type { Ids } from '@pkc-examples/magazine'
import { seed, serve } from '@pkc-examples/magazine'
import { siteConfig } from '@pkc-examples/magazine/config'
import type { PostgresServer } from '@pkc/testkit'
import { closePayload, lookupsOf } from '@pkc/testkit'
import type { Payload } from 'payload'
import { getPayload } from 'payload'
import type { KVNamespaceLike } from 'payload-kv-cache'
import { withKVCache } from 'payload-kv-cache'
import type { CallCounter } from './adapters.js'
import { counted } from './adapters.js'
import type { Answer, LoadTarget } from './load.js'

// Drizzle skips its push when the schema equals the last one pushed in this process, which
// would leave every database after the first without tables.
process.env.PAYLOAD_FORCE_DRIZZLE_PUSH = 'true'

export interface PostgresPair {
  plain: Payload
  cached: Payload
  /** Payload's instance keys: the HTTP servers must reach these instances, not build new ones. */
  keys: { plain: string; cached: string }
  plainCounter: CallCounter
  cachedCounter: CallCounter
  ids: Ids
  stop(): Promise<void>
}

/** An uncached and a cached Payload over one fresh, seeded database on `server`. */
export async function postgresPair(
  server: PostgresServer,
  kv: KVNamespaceLike,
  options: { invalidation: 'stamp' | 'prefix'; prefix: string },
): Promise<PostgresPair> {
  // A new, empty database each run, so that every run starts from the same content.
  const pool = { connectionString: await server.createDatabase('bench'), max: 10 }
  const plainCounter: CallCounter = { reads: 0, writes: 0 }
  const cachedCounter: CallCounter = { reads: 0, writes: 0 }
  const keys = { plain: `${options.prefix}-plain`, cached: `${options.prefix}-cached` }
  const plain = await getPayload({
    config: siteConfig(counted(postgresAdapter({ pool, push: true }), plainCounter)),
    key: keys.plain,
    cron: false,
  })
  const cachedAdapter = withKVCache(counted(postgresAdapter({ pool, push: false }), cachedCounter), {
    kv,
    invalidation: options.invalidation,
    prefix: options.prefix,
  })
  const cached = await getPayload({ config: siteConfig(cachedAdapter), key: keys.cached, cron: false })
  const ids = await seed(plain)
  return {
    plain,
    cached,
    keys,
    plainCounter,
    cachedCounter,
    ids,
    stop: async () => {
      await closePayload(plain)
      await closePayload(cached)
    },
  }
}

/**
 * One GET to a Node server of the pair: its answer, the database reads it caused (counted
 * beneath the cache) and, for the cached instance, its hits and lookups. One request per
 * instance in flight, so the counter deltas belong to it.
 */
export async function answer(base: string, counter: CallCounter, payload: Payload, path: string): Promise<Answer> {
  const reads = counter.reads
  const before = payload.db.kvCache?.stats()
  const response = await fetch(base + path)
  const body: unknown = await response.json()
  const after = payload.db.kvCache?.stats()
  return {
    status: response.status,
    body,
    dbReads: counter.reads - reads,
    hits: before && after ? after.hits - before.hits : 0,
    lookups: before && after ? lookupsOf(after) - lookupsOf(before) : 0,
  }
}

/** The pair behind two local HTTP servers, as a LoadTarget. */
export async function postgresTarget(pair: PostgresPair): Promise<LoadTarget & { close(): Promise<void> }> {
  const plainServer = await serve(Promise.resolve(pair.plain.config), pair.keys.plain)
  const cachedServer = await serve(Promise.resolve(pair.cached.config), pair.keys.cached)
  return {
    get: async (path) => {
      // One request per instance in flight: the counter deltas then belong to it.
      const [plain, cached] = await Promise.all([
        answer(plainServer.url, pair.plainCounter, pair.plain, path),
        answer(cachedServer.url, pair.cachedCounter, pair.cached, path),
      ])
      return { plain, cached }
    },
    write: async (id, views) => {
      await pair.cached.update({ collection: 'posts', id, data: { views } })
    },
    settled: async () => {
      await pair.cached.db.kvCache?.settled()
    },
    close: async () => {
      await plainServer.close()
      await cachedServer.close()
    },
  }
}
