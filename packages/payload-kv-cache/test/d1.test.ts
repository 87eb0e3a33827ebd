import { describe, expect, it, jest } from '@jest/globals'
import { closePayload } from '@pkc/testkit'
import type { Payload } from 'payload'
import { unwrapAdapter, withKVCache } from '../src/index.js'
import { withTestHooks } from '../src/internals.js'
import { startPayload } from './support/app.js'
import { ManualClock } from './support/clock.js'
import { edgeKV } from './support/edge.js'
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

describe('D1 has no transactions: an update reads the document and writes it back whole', () => {
  it('the read inside another location’s update goes to the database, so a write its KV has not shown yet is not written over', async () => {
    // Two locations on one D1: B sees A's stamp puts late, as KV's location caches allow
    // (README, guarantee 1; ten minutes here, so that the test's moving clock stays inside
    // it). A read there may be stale for that long; an update there must not turn that into a
    // lost update in the database.
    const clock = new ManualClock(Date.now())
    const edge = edgeKV(env.kv(), clock.now)
    const database = await env.newDatabase()
    const start = async (location: string, lagMs: number) => {
      const wrapped = withKVCache(
        database.adapter(),
        withTestHooks({ kv: edge.location(location, lagMs), prefix: 'd1-lost-update', ttl: 7200 }, { clock }),
      )
      return { payload: await startPayload(wrapped), cache: wrapped.kvCache }
    }
    const LAG_MS = 600_000
    const a = await start('a', 0)
    const b = await start('b', LAG_MS)
    const plain = await startPayload(database.adapter())
    const settle = () => clock.until(Promise.all([a.cache.settled(), b.cache.settled()]))
    // A write whose stamp waits for a free slot sleeps on the test's clock: move it meanwhile.
    const run = async <T>(work: Promise<T>): Promise<T> => (await clock.until(work), work)
    type Reader = (args: Record<string, unknown>) => Promise<unknown>
    const READS = ['findOne', 'findVersions', 'queryDrafts', 'find'] as const
    try {
      // Authors keep no versions (the update reads the row); posts keep drafts (it reads the latest version).
      for (const collection of ['authors', 'posts'] as const) {
        const [field, other] = collection === 'authors' ? (['name', 'bio'] as const) : (['title', 'body'] as const)
        const doc = await plain.create({ collection, data: { [field]: 'original', [other]: 'original' } })
        // The reads B's update makes, as the adapter sees them: another request of B (an edit
        // view, a hook) can make the same read outside a write and fill it.
        const inner = unwrapAdapter(b.payload.db) as unknown as Record<string, Reader>
        const made: Array<[string, Record<string, unknown>]> = []
        const spies = READS.map((method) => {
          const original = inner[method]!
          return jest.spyOn(inner, method).mockImplementation(function (this: unknown, args: Record<string, unknown>) {
            made.push([method, args])
            return original.call(this, args)
          })
        })
        try {
          await run(b.payload.update({ collection, id: doc.id, data: { [other]: 'first' } }))
        } finally {
          for (const spy of spies) spy.mockRestore()
        }
        await settle()
        await clock.advance(LAG_MS + 10_000)
        const wrapped = b.payload.db as unknown as Record<string, Reader>
        const replays = made
          .filter(([, args]) => args.collection === collection)
          .map(([method, args]) => ({ method, args: { ...args, req: undefined } }))
        expect(replays.length).toBeGreaterThan(0)
        for (const { method, args } of replays) await wrapped[method]!.call(b.payload.db, args)
        await settle()
        const hits = b.cache.stats().hits
        for (const { method, args } of replays) await wrapped[method]!.call(b.payload.db, args)
        // Cached in B: served from KV outside a write.
        expect(b.cache.stats().hits).toBe(hits + replays.length)
        // A changes one field; B, which does not see A's stamps yet, changes the other.
        await run(a.payload.update({ collection, id: doc.id, data: { [field]: 'by A' } }))
        await run(b.payload.update({ collection, id: doc.id, data: { [other]: 'by B' } }))
        await settle()
        const stored = (await plain.findByID({ collection, id: doc.id, depth: 0 })) as unknown as Record<string, unknown>
        expect({ collection, [field]: stored[field], [other]: stored[other] }).toStrictEqual({
          collection,
          [field]: 'by A',
          [other]: 'by B',
        })
      }
    } finally {
      await settle()
      await closePayload(a.payload)
      await closePayload(b.payload)
      await closePayload(plain)
    }
  })
})
