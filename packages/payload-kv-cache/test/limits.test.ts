import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals'
import type { Payload } from 'payload'
import type { KVNamespaceLike, WithKVCache } from '../src/index.js'
import { withKVCache } from '../src/index.js'
import type { Database } from './support/app.js'
import { closePayload, startPayload } from './support/app.js'
import { ManualClock } from './support/clock.js'
import type { Edge } from './support/edge.js'
import { edgeKV } from './support/edge.js'
import { useTestEnv } from './support/env.js'

/**
 * KV's production limits, on the real Miniflare namespace wrapped to enforce them: one write
 * per second per key (429 otherwise) and locations that see each other's writes late. Time
 * is a manual clock: nothing here sleeps.
 */
const env = useTestEnv('sqlite')
const LAG_MS = 2000

type Adapter = WithKVCache<ReturnType<Database['adapter']>>

interface Isolate {
  payload: Payload
  adapter: Adapter
}

describe('one write per second per key, and lagging locations', () => {
  let clock: ManualClock
  let edge: Edge
  let database: Database
  let plain: Payload
  const isolates: Isolate[] = []
  let prefixes = 0

  beforeAll(async () => {
    database = await env.newDatabase()
    plain = await startPayload(database.adapter())
  })

  afterAll(async () => {
    for (const { payload } of isolates) await closePayload(payload)
    await closePayload(plain)
  })

  /** Two isolates in two locations on one database; a fresh prefix, clock and edge per test. */
  async function twoLocations(wrap: (kv: KVNamespaceLike) => KVNamespaceLike = (kv) => kv): Promise<[Isolate, Isolate, string]> {
    clock = new ManualClock(Date.now())
    edge = edgeKV(env.kv(), clock.now)
    const prefix = `lim${prefixes++}`
    const start = async (location: string): Promise<Isolate> => {
      const adapter = withKVCache(database.adapter(), { kv: wrap(edge.location(location, LAG_MS)), prefix, clock })
      const isolate = { payload: await startPayload(adapter), adapter }
      isolates.push(isolate)
      return isolate
    }
    return [await start('a'), await start('b'), prefix]
  }

  const readNote = (payload: Payload, id: number | string) => payload.findByID({ collection: 'notes', id, depth: 0 })

  /** Lets background fills and stamp writes finish, moving the clock for the ones that wait. */
  async function settle(...list: Isolate[]): Promise<void> {
    await clock.until(Promise.all(list.map((isolate) => isolate.adapter.kvCache.settled())))
  }

  it('a burst of 50 writes to one collection in one second makes at most 2 stamp writes; the writer never reads stale; the other location is stale for at most lag + 1 s', async () => {
    const [a, b, prefix] = await twoLocations()
    const note = await plain.create({ collection: 'notes', data: { text: 'v0' } })
    // A fills the note's entry; once the lag has passed, B is served A's entry.
    await readNote(a.payload, note.id)
    await settle(a)
    await clock.advance(LAG_MS)
    for (const isolate of [a, b]) {
      const hits = isolate.adapter.kvCache.stats().hits
      expect((await readNote(isolate.payload, note.id)).text).toBe('v0')
      expect(isolate.adapter.kvCache.stats().hits).toBe(hits + 1)
    }

    const stamp = `${prefix}:stamp:c:notes`
    const stampWritesBefore = edge.writes(stamp)
    // The note's own stamp (documentStamps), which its findByID reads, is coalesced the same way.
    const documentStampKey = `${stamp}#=${note.id}`
    const documentWritesBefore = edge.writes(documentStampKey)
    for (let i = 1; i <= 50; i++) {
      await a.payload.update({ collection: 'notes', id: note.id, data: { text: `v${i}` } })
      // The writing isolate: every read after its write shows it.
      expect(await readNote(a.payload, note.id)).toStrictEqual(await readNote(plain, note.id))
      await clock.advance(20)
    }
    const lastWriteAt = clock.now() - 20
    const truth = await readNote(plain, note.id)
    expect(truth.text).toBe('v50')

    // The other location, read every 100 ms: stale at most until lag + 1 s after the last write.
    let lastStaleAt = -Infinity
    let staleReads = 0
    while (clock.now() < lastWriteAt + LAG_MS + 3000) {
      const seen = await readNote(b.payload, note.id)
      if (seen.text !== truth.text) {
        lastStaleAt = clock.now()
        staleReads++
      } else expect(seen).toStrictEqual(truth)
      await clock.advance(100)
    }
    // KV's lag really was in play: B served the old entry for a while.
    expect(staleReads).toBeGreaterThan(0)
    expect(lastStaleAt - lastWriteAt).toBeLessThanOrEqual(LAG_MS + 1000)
    await settle(a, b)

    expect(edge.writes(stamp) - stampWritesBefore).toBeLessThanOrEqual(2)
    expect(edge.writes(stamp) - stampWritesBefore).toBeGreaterThanOrEqual(1)
    expect(edge.rejectedFor(stamp)).toBe(0)
    expect(edge.writes(documentStampKey) - documentWritesBefore).toBeLessThanOrEqual(2)
    expect(edge.writes(documentStampKey) - documentWritesBefore).toBeGreaterThanOrEqual(1)
    expect(edge.rejectedFor(documentStampKey)).toBe(0)
    const stats = a.adapter.kvCache.stats()
    expect(stats.stampsCoalesced).toBeGreaterThanOrEqual(48)
    expect(stats.stampFailures).toBe(0)
    expect(await readNote(a.payload, note.id)).toStrictEqual(truth)
    expect(await readNote(b.payload, note.id)).toStrictEqual(truth)
  })

  it('a stamp write refused with a 429 (another location wrote it this second) is retried and lands; neither writer reads stale', async () => {
    const [a, b, prefix] = await twoLocations()
    const note = await plain.create({ collection: 'notes', data: { text: 'v0' } })
    await readNote(a.payload, note.id)
    await settle(a)
    await clock.advance(LAG_MS)

    await a.payload.update({ collection: 'notes', id: note.id, data: { text: 'from a' } })
    await clock.advance(100)
    // Inside A's second: KV refuses B's stamp write.
    await b.payload.update({ collection: 'notes', id: note.id, data: { text: 'from b' } })
    expect(edge.rejectedFor(`${prefix}:stamp:c:notes`)).toBe(1)
    const truth = await readNote(plain, note.id)
    expect(truth.text).toBe('from b')
    expect(await readNote(b.payload, note.id)).toStrictEqual(truth)

    const bWroteAt = clock.now()
    let lastStaleAt = -Infinity
    while (clock.now() < bWroteAt + LAG_MS + 3000) {
      for (const isolate of [a, b]) {
        const seen = await readNote(isolate.payload, note.id)
        if (isolate === b) expect(seen).toStrictEqual(truth)
        else if (seen.text !== truth.text) lastStaleAt = clock.now()
      }
      await clock.advance(100)
    }
    expect(lastStaleAt - bWroteAt).toBeLessThanOrEqual(LAG_MS + 1000)
    await settle(a, b)
    const stats = b.adapter.kvCache.stats()
    // Both of B's stamps met A's write this second: the collection's and the note's.
    expect(stats.stampRetries).toBe(2)
    expect(stats.stampFailures).toBe(0)
    expect(edge.writes(`${prefix}:stamp:c:notes`)).toBe(2)
    expect(edge.writes(`${prefix}:stamp:c:notes#=${note.id}`)).toBe(2)
  })

  it('invalidate() resolves once a write started after it lands, even while writes to the scope go on every 300 ms', async () => {
    const [a, , prefix] = await twoLocations()
    const note = await a.payload.create({ collection: 'notes', data: { text: 'v0' } })
    let writing = true
    const writes = (async () => {
      for (let i = 0; writing && i < 100; i++) {
        await a.payload.update({ collection: 'notes', id: note.id, data: { text: `v${i}` } })
        await clock.advance(300)
      }
    })()
    let resolved = false
    const invalidated = a.adapter.kvCache.invalidate({ collections: ['notes'] }).then(() => (resolved = true))
    const startedAt = clock.now()
    while (!resolved && clock.now() - startedAt < 10_000) await clock.advance(100)
    writing = false
    await writes
    await invalidated
    expect(resolved).toBe(true)
    expect(clock.now() - startedAt).toBeLessThan(3000)
    expect(edge.writes(`${prefix}:stamp:c:notes`)).toBeGreaterThanOrEqual(2)
    await settle(a)
  })

  it('a trailing stamp write cancelled with its request (waitUntil past its limit) is taken over by the next bump', async () => {
    const [a, b, prefix] = await twoLocations()
    const stamp = `${prefix}:stamp:c:notes`
    const note = await a.payload.create({ collection: 'notes', data: { text: 'v0' } })
    await a.payload.update({ collection: 'notes', id: note.id, data: { text: 'v1' } })
    const landed = edge.writes(stamp)
    // The trailing write's timer dies with its request: it never wakes.
    clock.cancelSleepers()
    await clock.advance(30_000)
    expect(edge.writes(stamp)).toBe(landed)
    await a.payload.update({ collection: 'notes', id: note.id, data: { text: 'v2' } })
    // (Not settled(): it would wait for the cancelled writer, which never finishes.)
    for (let i = 0; i < 50 && edge.writes(stamp) === landed; i++) await clock.advance(100)
    expect(edge.writes(stamp)).toBe(landed + 1)
    await clock.advance(LAG_MS)
    expect(await readNote(b.payload, note.id)).toStrictEqual(await readNote(plain, note.id))
    expect((await readNote(a.payload, note.id)).text).toBe('v2')
  })

  it('a stamp write that keeps failing is retried with backoff, then reported and counted; the isolate bypasses the scope until a write lands', async () => {
    let refuse = true
    const refusing = (kv: KVNamespaceLike): KVNamespaceLike => ({
      get: kv.get.bind(kv) as KVNamespaceLike['get'],
      put: async (key, value, options) => {
        if (refuse && key.includes(':stamp:c:notes')) throw new Error('KV PUT failed: 500 Internal Server Error')
        return kv.put(key, value, options)
      },
      delete: kv.delete.bind(kv),
      list: kv.list.bind(kv),
    })
    const [a] = await twoLocations(refusing)
    const warn = jest.spyOn(a.payload.logger, 'warn').mockImplementation(() => undefined)
    try {
      const note = await a.payload.create({ collection: 'notes', data: { text: 'v0' } })
      const cache = a.adapter.kvCache
      // The first attempt failed inside the write; retries follow 1, 2 and 4 s apart, for the
      // collection's stamp and the new note's alike.
      await clock.advance(0)
      expect(cache.stats().stampRetries).toBe(0)
      await clock.advance(1000)
      expect(cache.stats().stampRetries).toBe(2)
      await clock.advance(2000)
      expect(cache.stats().stampRetries).toBe(4)
      await clock.advance(3990)
      expect(cache.stats().stampRetries).toBe(4)
      expect(cache.stats().stampFailures).toBe(0)
      await clock.advance(10)
      expect(cache.stats().stampRetries).toBe(6)
      expect(cache.stats().stampFailures).toBe(2)
      expect(warn.mock.calls.map((call) => String(call[0])).join('\n')).toMatch(/invalidation stamp for c:notes/)

      // Not served from KV meanwhile: every read goes to the database.
      const bypasses = cache.stats().bypasses
      await readNote(a.payload, note.id)
      await readNote(a.payload, note.id)
      expect(cache.stats().bypasses).toBe(bypasses + 2)
      expect(cache.stats().hits).toBe(0)

      // KV recovers: a read sets off another write, which lands; then the cache serves again.
      refuse = false
      await clock.advance(1000)
      await readNote(a.payload, note.id)
      await settle(a)
      await readNote(a.payload, note.id)
      await settle(a)
      const hits = cache.stats().hits
      expect(await readNote(a.payload, note.id)).toStrictEqual(await readNote(plain, note.id))
      expect(cache.stats().hits).toBe(hits + 1)
    } finally {
      warn.mockRestore()
    }
  })
})
