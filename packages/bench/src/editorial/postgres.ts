/**
 * The editorial run on Postgres: the site's REST API served twice from Node over one
 * embedded Postgres database, uncached and cached, as the magazine's run does.
 *
 * The counting wrapper sits beneath `withKVCache`: the cache's inner adapter *is* the
 * counting proxy, so every call anything makes on the inner adapter is counted, Payload's
 * misses and bypasses as much as reads the cache might make on its own behalf during a
 * write (a before image).
 */
import { postgresAdapter } from '@payloadcms/db-postgres'
import { serve } from '@pkc-examples/magazine'
import type { PostgresServer } from '@pkc/testkit'
import { closePayload } from '@pkc/testkit'
import type { Payload } from 'payload'
import { getPayload } from 'payload'
import type { KVNamespaceLike } from 'payload-kv-cache'
import { withKVCache } from 'payload-kv-cache'
import type { CallCounter } from '../adapters.js'
import { counted } from '../adapters.js'
import { phasedKV } from '../phased-kv.js'
import { answer } from '../postgres-target.js'
import { editorialConfig } from './config.js'
import type { EditorialTarget } from './run.js'
import { seedEditorial } from './seed.js'
import { applyWrite } from './writes.js'

// Drizzle skips its push when the schema equals the last one pushed in this process.
process.env.PAYLOAD_FORCE_DRIZZLE_PUSH = 'true'

export interface CacheVariant {
  invalidation: 'stamp' | 'prefix'
  listPrecision: boolean
}

/** An uncached and a cached editorial site over one fresh, seeded database, behind two HTTP servers. */
export async function editorialPostgres(
  server: PostgresServer,
  kv: KVNamespaceLike,
  variant: CacheVariant,
  prefix: string,
): Promise<EditorialTarget & { cached: Payload; close(): Promise<void> }> {
  const pool = { connectionString: await server.createDatabase('editorial'), max: 10 }
  const plainCounter: CallCounter = { reads: 0, writes: 0 }
  const cachedCounter: CallCounter = { reads: 0, writes: 0 }
  const keys = { plain: `${prefix}-plain`, cached: `${prefix}-cached` }
  const plain = await getPayload({
    config: editorialConfig(counted(postgresAdapter({ pool, push: true }), plainCounter)),
    key: keys.plain,
    cron: false,
  })
  const phased = phasedKV(kv)
  const cachedAdapter = withKVCache(counted(postgresAdapter({ pool, push: false }), cachedCounter), {
    kv: phased.kv,
    invalidation: variant.invalidation,
    listPrecision: variant.listPrecision,
    prefix,
  })
  const cached = await getPayload({ config: editorialConfig(cachedAdapter), key: keys.cached, cron: false })
  const ids = await seedEditorial(plain)
  const plainServer = await serve(Promise.resolve(plain.config), keys.plain)
  const cachedServer = await serve(Promise.resolve(cached.config), keys.cached)

  return {
    ids,
    cached,
    get: async (path) => {
      phased.phase = 'read'
      // One request per instance in flight: the counter deltas then belong to it.
      const [plainAnswer, cachedAnswer] = await Promise.all([
        answer(plainServer.url, plainCounter, plain, path),
        answer(cachedServer.url, cachedCounter, cached, path),
      ])
      return { plain: plainAnswer, cached: cachedAnswer }
    },
    write: async (write) => {
      phased.phase = 'write'
      const reads = cachedCounter.reads
      const writes = cachedCounter.writes
      const { id } = await applyWrite(cached, ids, write)
      return { id, dbReads: cachedCounter.reads - reads, dbWrites: cachedCounter.writes - writes }
    },
    kvCounts: () => Promise.resolve(structuredClone(phased.counts)),
    settled: async () => {
      await cached.db.kvCache?.settled()
    },
    close: async () => {
      await plainServer.close()
      await cachedServer.close()
      await closePayload(plain)
      await closePayload(cached)
    },
  }
}
