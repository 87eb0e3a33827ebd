import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { closePayload } from '@pkc/testkit'
import type { Payload } from 'payload'
import type { KVCacheHandle } from '../../src/index.js'
import { withKVCache } from '../../src/index.js'
import { withTestHooks } from '../../src/internals.js'
import { startPayload } from '../support/app.js'
import { ManualClock } from '../support/clock.js'
import type { TestEnv } from '../support/env.js'

/**
 * Postgres read replicas: Payload sends reads to a replica except in the writing isolate for
 * `readReplicasAfterWriteInterval` (2 s) after its write. Another isolate reading then may get
 * the replica's old row; filling it under the new stamp would keep it past replication. The
 * replica here is a second database the test "replicates" by hand, so its lag is real and
 * under the test's control.
 */
export function replicaSuite(env: TestEnv): void {
  describe('read replicas', () => {
    const started: Payload[] = []
    afterAll(async () => {
      for (const payload of started) await closePayload(payload)
    })
    const start = async (db: Parameters<typeof startPayload>[0]) => {
      const payload = await startPayload(db)
      started.push(payload)
      return payload
    }

    let primary: Payload
    let replica: Payload
    let writer: Payload
    let reader: Payload
    let readerCache: KVCacheHandle
    const clock = new ManualClock(Date.now())

    beforeAll(async () => {
      const { postgresAdapter } = await import('@payloadcms/db-postgres')
      const primaryDb = await env.newDatabase()
      const replicaDb = await env.newDatabase()
      primary = await start(primaryDb.adapter())
      replica = await start(replicaDb.adapter())
      const prefix = `replica${Date.now().toString(36)}`
      writer = await start(withKVCache(primaryDb.adapter(), withTestHooks({ kv: env.kv(), prefix }, { clock })))
      const readerAdapter = withKVCache(
        postgresAdapter({ pool: { connectionString: primaryDb.connectionString!, max: 2 }, readReplicas: [replicaDb.connectionString!] }),
        withTestHooks({ kv: env.kv(), prefix }, { clock }),
      )
      reader = await start(readerAdapter)
      readerCache = readerAdapter.kvCache
    })

    it('a read within the replica window after a write is not filled, so the replica’s old row never outlives replication', async () => {
      const note = await primary.create({ collection: 'notes', data: { text: 'v0' } })
      const copy = await replica.create({ collection: 'notes', data: { text: 'v0' } })
      expect(copy.id).toBe(note.id)
      const read = (p: Payload) => p.findByID({ collection: 'notes', id: note.id, depth: 0 })
      await clock.advance(5000)
      expect((await read(reader)).text).toBe('v0')
      await readerCache.settled()

      await writer.update({ collection: 'notes', id: note.id, data: { text: 'v1' } })
      await clock.advance(100)
      // The replica has not caught up: the reader gets its old row, and must not keep it.
      const fills = readerCache.stats().fills
      expect((await read(reader)).text).toBe('v0')
      await readerCache.settled()
      expect(readerCache.stats().fills).toBe(fills)

      // Replication catches up within Payload's window; after it, reads are filled again.
      await replica.update({ collection: 'notes', id: note.id, data: { text: 'v1' } })
      await clock.advance(2000)
      expect((await read(reader)).text).toBe('v1')
      await readerCache.settled()
      expect(readerCache.stats().fills).toBe(fills + 1)
      const hits = readerCache.stats().hits
      // What the database the reader reads (the replica, now caught up) says.
      expect(await read(reader)).toStrictEqual(await read(replica))
      expect(readerCache.stats().hits).toBe(hits + 1)
    })

    it('an update outside a transaction does not trust a before image a lagging replica could give (list precision)', async () => {
      const note = await primary.create({ collection: 'notes', data: { text: 'a' } })
      await replica.create({ collection: 'notes', data: { text: 'a' } })
      await clock.advance(5000)
      const count = (p: Payload) => p.count({ collection: 'notes', where: { text: { equals: 'b' } } })
      const writerCache = (writer.db as unknown as { kvCache: KVCacheHandle }).kvCache
      // Another isolate moves the note into the filter; the replica has not caught up.
      await writer.update({ collection: 'notes', id: note.id, data: { text: 'b' } })
      await clock.advance(3000)
      expect((await count(writer)).totalDocs).toBe(1)
      await writerCache.settled()
      // The reader's save, outside a transaction: a before image from the replica would say 'a'.
      await reader.db.updateOne({ collection: 'notes', id: note.id, data: { text: 'a' }, req: {} })
      await readerCache.settled()
      await clock.advance(3000)
      expect((await count(primary)).totalDocs).toBe(0)
      expect(await count(writer)).toStrictEqual(await count(primary))
    })
  })
}
