import { describe, expect, it } from '@jest/globals'
import { closePayload } from '@pkc/testkit'
import type { Payload } from 'payload'
import { withKVCache } from '../src/index.js'
import { withTestHooks } from '../src/internals.js'
import { startPayload } from './support/app.js'
import { ManualClock } from './support/clock.js'
import { useTestEnv } from './support/env.js'
import { allSuites } from './suites/all.js'

// Cloudflare D1 through @payloadcms/db-d1-sqlite, on Miniflare's D1 from Node. D1 has no
// interactive transactions, so the transaction suite does not apply.
const env = useTestEnv('d1')
allSuites(env, { transactions: false })

describe('D1 read replication (Sessions API, readReplicas: first-primary)', () => {
  it('a read within the replica window after a write is not filled; after it, reads fill and hit', async () => {
    const clock = new ManualClock(Date.now())
    const database = await env.newDatabase()
    const wrapped = withKVCache(
      database.adapter({ readReplicas: 'first-primary' }),
      withTestHooks({ kv: env.kv(), prefix: 'd1-replicas' }, { clock }),
    )
    const cached = await startPayload(wrapped)
    const plain = await startPayload(database.adapter())
    const cache = wrapped.kvCache
    try {
      const note = await cached.create({ collection: 'notes', data: { text: 'v0' } })
      const read = (p: Payload) => p.findByID({ collection: 'notes', id: note.id, depth: 0 })
      await clock.advance(5000)
      await cached.update({ collection: 'notes', id: note.id, data: { text: 'v1' } })
      await clock.advance(100)
      // Another isolate's session could still be on a replica without this write: no fill.
      const before = cache.breakdown().totals
      expect(await read(cached)).toStrictEqual(await read(plain))
      await cache.settled()
      const after = cache.breakdown().totals
      expect(after.fills).toBe(before.fills)
      expect(after.fillSkipsReplica).toBe(before.fillSkipsReplica + 1)

      await clock.advance(2000)
      expect(await read(cached)).toStrictEqual(await read(plain))
      await cache.settled()
      expect(cache.stats().fills).toBe(after.fills + 1)
      const hits = cache.stats().hits
      expect((await read(cached)).text).toBe('v1')
      expect(cache.stats().hits).toBe(hits + 1)
    } finally {
      await cache.settled()
      await closePayload(cached)
      await closePayload(plain)
    }
  })
})
