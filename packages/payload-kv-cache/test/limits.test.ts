import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals'
import { closePayload, random } from '@pkc/testkit'
import type { Payload } from 'payload'
import type { KVNamespaceLike, WithKVCache } from '../src/index.js'
import { withKVCache } from '../src/index.js'
import { withTestHooks } from '../src/internals.js'
import { STAMP_SLOTS } from '../src/invalidation/stamp-tokens.js'
import { strictlyEqual as isEqual } from '../src/equality.js'
import type { Database } from './support/app.js'
import { startPayload } from './support/app.js'
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
  async function twoLocations(
    wrap: (kv: KVNamespaceLike) => KVNamespaceLike = (kv) => kv,
    lagMs = LAG_MS,
    options?: { edgeCache?: boolean },
  ): Promise<[Isolate, Isolate, string]> {
    clock = new ManualClock(Date.now())
    edge = edgeKV(env.kv(), clock.now)
    const prefix = `lim${prefixes++}`
    const start = async (location: string): Promise<Isolate> => {
      const adapter = withKVCache(
        database.adapter(),
        withTestHooks({ kv: wrap(edge.location(location, lagMs, options)), prefix }, { clock }),
      )
      const isolate = { payload: await startPayload(adapter), adapter }
      isolates.push(isolate)
      return isolate
    }
    return [await start('a'), await start('b'), prefix]
  }

  const readNote = (payload: Payload, id: number | string) => payload.findByID({ collection: 'notes', id, depth: 0 })

  const isStampKey = (key: string): boolean => key.includes(':stamp:')

  /** Puts accepted to a stamp, over all its slot keys. */
  const stampWrites = (prefix: string, scope: string): number =>
    Array.from({ length: STAMP_SLOTS }, (_, slot) =>
      edge.writes(slot === 0 ? `${prefix}:stamp:${scope}` : `${prefix}:stamp:${slot}:${scope}`),
    ).reduce((sum, n) => sum + n, 0)

  /** Lets background fills and stamp writes finish, moving the clock for the ones that wait. */
  async function settle(...list: Isolate[]): Promise<void> {
    await clock.until(Promise.all(list.map((isolate) => isolate.adapter.kvCache.settled())))
  }

  it('a location that cached the stamps before a write elsewhere shows it within 30 s (the stamps are read with KV’s shortest cacheTtl), not 60', async () => {
    const [a, b] = await twoLocations(undefined, 0, { edgeCache: true })
    const note = await plain.create({ collection: 'notes', data: { text: 'before' } })
    await readNote(a.payload, note.id)
    await settle(a)
    // B fetches the entry and the stamps, and keeps them in its location cache.
    const fetchedAt = clock.now()
    const hits = b.adapter.kvCache.stats().hits
    expect((await readNote(b.payload, note.id)).text).toBe('before')
    expect(b.adapter.kvCache.stats().hits).toBe(hits + 1)
    await a.payload.update({ collection: 'notes', id: note.id, data: { text: 'after' } })
    await settle(a)
    // Within the edge cache time B still answers from its copy: the window the README states.
    await clock.advance(20_000)
    expect((await readNote(b.payload, note.id)).text).toBe('before')
    await clock.advance(fetchedAt + 31_000 - clock.now())
    expect(await readNote(b.payload, note.id)).toStrictEqual(await readNote(plain, note.id))
    expect((await readNote(b.payload, note.id)).text).toBe('after')
  })

  it('a burst of 50 writes to one collection in one second: the writer never reads stale, the other location is stale only while KV lags, and the stamps stay within KV’s limits', async () => {
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

    const writesBefore = stampWrites(prefix, 'c:notes')
    const documentWritesBefore = stampWrites(prefix, `c:notes#=${note.id}`)
    const startedAt = clock.now()
    for (let i = 1; i <= 50; i++) {
      await a.payload.update({ collection: 'notes', id: note.id, data: { text: `v${i}` } })
      // The writing isolate: every read after its write shows it.
      expect(await readNote(a.payload, note.id)).toStrictEqual(await readNote(plain, note.id))
      await clock.advance(20)
    }
    const lastWriteAt = clock.now() - 20
    const truth = await readNote(plain, note.id)
    expect(truth.text).toBe('v50')

    // The other location, read every 100 ms: stale only until KV's lag has passed.
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
    expect(lastStaleAt - lastWriteAt).toBeLessThan(LAG_MS)
    await settle(a, b)

    // At most one put per slot per second, and none refused (entries may be: two fills of one key).
    const seconds = Math.ceil((clock.now() - startedAt) / 1000)
    expect(stampWrites(prefix, 'c:notes') - writesBefore).toBeLessThanOrEqual(STAMP_SLOTS * seconds)
    expect(edge.rejected(isStampKey)).toBe(0)
    // The note's own stamp likewise (past 20 document bumps a second, the bulk stamp takes them).
    expect(stampWrites(prefix, `c:notes#=${note.id}`) - documentWritesBefore).toBeLessThanOrEqual(STAMP_SLOTS * seconds)
    const stats = a.adapter.kvCache.stats()
    expect(stats.stampsCoalesced).toBeGreaterThan(0)
    expect(stats.stampFailures).toBe(0)
    expect(await readNote(a.payload, note.id)).toStrictEqual(truth)
    expect(await readNote(b.payload, note.id)).toStrictEqual(truth)
  })

  /**
   * The burst window: a write that came less than a second after another write to its
   * collection could not put its stamp until KV's per-key second was over, and another
   * isolate served pre-write data meanwhile. KV here shows every write at once (no lag), so
   * any read that differs from the database is one the cache hid.
   */
  it('bursts of writes through one isolate, each read through the other right after: 0 stale reads, and the other isolate still hits between bursts', async () => {
    const [a, b] = await twoLocations((kv) => kv, 0)
    const notes = []
    for (let i = 0; i < 4; i++) notes.push(await plain.create({ collection: 'notes', data: { text: `n${i} v0` } }))
    const list = (payload: Payload) => payload.find({ collection: 'notes', sort: 'id', depth: 0, limit: 10 })
    const count = (payload: Payload) => payload.count({ collection: 'notes' })
    let stale = 0
    let reads = 0
    const compare = async (reader: Payload, read: (payload: Payload) => Promise<unknown>) => {
      reads++
      const [seen, truth] = [await read(reader), await read(plain)]
      if (!isEqual(seen, truth)) stale++
    }
    const rnd = random(20261129)
    const hitsBefore = b.adapter.kvCache.stats().hits
    for (let burst = 0; burst < 12; burst++) {
      // 2 to 7 writes, 0-150 ms apart: edits, and now and then a new note.
      const size = 2 + Math.floor(rnd() * 6)
      for (let i = 0; i < size; i++) {
        const note = notes[Math.floor(rnd() * notes.length)]!
        if (rnd() < 0.15) notes.push(await a.payload.create({ collection: 'notes', data: { text: `n${notes.length} v0` } }))
        else await a.payload.update({ collection: 'notes', id: note.id, data: { text: `${note.id} b${burst} w${i}` } })
        // Right after the write returns, through the isolate that did not write.
        await compare(b.payload, (payload) => readNote(payload, note.id))
        await compare(b.payload, list)
        await compare(b.payload, count)
        await clock.advance(Math.floor(rnd() * 150))
      }
      // Between bursts, quiet reads from both: B fills and hits again.
      for (let i = 0; i < 6; i++) {
        const note = notes[Math.floor(rnd() * notes.length)]!
        for (const isolate of [a, b]) {
          await compare(isolate.payload, (payload) => readNote(payload, note.id))
          await compare(isolate.payload, list)
        }
        await settle(a, b)
        await clock.advance(1000)
      }
    }
    expect(reads).toBeGreaterThan(300)
    expect(stale).toBe(0)
    expect(edge.rejected(isStampKey)).toBe(0)
    // Not by bypassing everything: B is served from KV between bursts.
    expect(b.adapter.kvCache.stats().hits - hitsBefore).toBeGreaterThan(50)
    // The horizon was in play: bursts past the slots made B go to the database.
    expect(b.adapter.kvCache.breakdown().totals.bypassesBurst).toBeGreaterThan(0)
    await settle(a, b)
  })

  it('a write refused on every slot (another isolate’s burst took them) returns only once its token has landed; every read after it returns is fresh', async () => {
    const [a, b, prefix] = await twoLocations((kv) => kv, 0)
    const note = await plain.create({ collection: 'notes', data: { text: 'v0' } })
    for (let i = 1; i <= STAMP_SLOTS; i++) await a.payload.update({ collection: 'notes', id: note.id, data: { text: `a${i}` } })
    expect(stampWrites(prefix, 'c:notes')).toBe(STAMP_SLOTS)
    // A fills the note and the list under its burst's tokens (real waits: the slots must stay taken).
    const list = (payload: Payload) => payload.find({ collection: 'notes', depth: 0, sort: 'id' })
    await readNote(a.payload, note.id)
    await list(a.payload)
    // (Not settled(): A's writer waits on the clock to close its burst with one more put.)
    for (let i = 0; i < 100 && a.adapter.kvCache.stats().fills < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    let returned = false
    const written = b.payload.update({ collection: 'notes', id: note.id, data: { text: 'from b' } }).then(() => (returned = true))
    for (let i = 0; i < 20 && edge.rejectedFor(`${prefix}:stamp:c:notes`) === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 10))
    await new Promise((resolve) => setTimeout(resolve, 50))
    // B's write has committed; no slot took its token yet, so it has not returned.
    expect(edge.rejected(isStampKey)).toBeGreaterThanOrEqual(STAMP_SLOTS)
    expect(returned).toBe(false)
    await clock.until(written)
    // B's token, and A's put that closes its burst.
    expect(stampWrites(prefix, 'c:notes')).toBeGreaterThanOrEqual(STAMP_SLOTS + 1)
    const truth = await readNote(plain, note.id)
    expect(truth.text).toBe('from b')
    for (const isolate of [a, b]) {
      expect(await readNote(isolate.payload, note.id)).toStrictEqual(truth)
      expect(await list(isolate.payload)).toStrictEqual(await list(plain))
    }
    await settle(a, b)
  })

  it('a stamp write refused with a 429 (another location wrote it this second) moves to the next slot at once; neither writer reads stale', async () => {
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
    expect(edge.rejectedFor(`${prefix}:stamp:c:notes#=${note.id}`)).toBe(1)
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
    expect(lastStaleAt - bWroteAt).toBeLessThan(LAG_MS)
    await settle(a, b)
    const stats = b.adapter.kvCache.stats()
    // The collection's stamp and the note's each took their next slot at once: no retry.
    expect(stats.stampRetries).toBe(0)
    expect(stats.stampFailures).toBe(0)
    for (const scope of ['c:notes', `c:notes#=${note.id}`]) {
      expect(edge.writes(`${prefix}:stamp:${scope}`)).toBe(1)
      expect(edge.writes(`${prefix}:stamp:1:${scope}`)).toBe(1)
    }
    expect(stampWrites(prefix, 'c:notes#*')).toBe(0)
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
    // A bump waits for its put, which Miniflare answers in real time: give it some per step.
    while (!resolved && clock.now() - startedAt < 10_000) {
      await clock.advance(100)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    writing = false
    await writes
    await invalidated
    expect(resolved).toBe(true)
    expect(clock.now() - startedAt).toBeLessThan(3000)
    expect(stampWrites(prefix, 'c:notes')).toBeGreaterThanOrEqual(2)
    await settle(a)
  })

  it('a trailing stamp write cancelled with its request (waitUntil past its limit) is taken over by the next bump', async () => {
    const [a, b] = await twoLocations()
    const prefix = `lim${prefixes - 1}`
    const note = await a.payload.create({ collection: 'notes', data: { text: 'v0' } })
    // Every slot is taken this second: the last update's stamp waits for a trailing write.
    for (let i = 1; i <= STAMP_SLOTS; i++) await a.payload.update({ collection: 'notes', id: note.id, data: { text: `v${i}` } })
    const landed = stampWrites(prefix, 'c:notes')
    expect(landed).toBe(STAMP_SLOTS)
    // The trailing write's timer dies with its request: it never wakes. The next write comes
    // within the dead writer's deadline, and must not wait for it.
    clock.cancelSleepers()
    await clock.advance(1600)
    expect(stampWrites(prefix, 'c:notes')).toBe(landed)
    await a.payload.update({ collection: 'notes', id: note.id, data: { text: 'v9' } })
    // (Not settled(): it would wait for the cancelled writer, which never finishes.)
    expect(stampWrites(prefix, 'c:notes')).toBe(landed + 1)
    await clock.advance(LAG_MS)
    expect(await readNote(b.payload, note.id)).toStrictEqual(await readNote(plain, note.id))
    expect((await readNote(a.payload, note.id)).text).toBe('v9')
  })

  it('a stamp write that keeps failing is retried with backoff, then reported and counted; the isolate bypasses the scope until a write lands', async () => {
    let refuse = true
    const refusing = (kv: KVNamespaceLike): KVNamespaceLike => ({
      get: kv.get.bind<KVNamespaceLike['get']>(kv),
      put: async (key, value, options) => {
        if (refuse && /:stamp:(\d+:)?c:notes/.test(key)) throw new Error('KV PUT failed: 500 Internal Server Error')
        return kv.put(key, value, options)
      },
      delete: kv.delete.bind(kv),
      list: kv.list.bind(kv),
    })
    const [a] = await twoLocations(refusing)
    const warn = jest.spyOn(a.payload.logger, 'warn').mockImplementation(() => undefined)
    try {
      let returned = false
      const created = a.payload.create({ collection: 'notes', data: { text: 'v0' } }).then((doc) => {
        returned = true
        return doc
      })
      const cache = a.adapter.kvCache
      // The first attempt failed inside the write, on every slot (3 stamps: the collection's,
      // its membership stamp and the new note's); retries follow 1, 2 and 4 s apart.
      for (let i = 0; i < 500 && cache.stats().kvErrors < 3 * STAMP_SLOTS; i++) await new Promise((resolve) => setTimeout(resolve, 5))
      await clock.advance(0)
      expect(cache.stats().stampRetries).toBe(0)
      await clock.advance(1000)
      expect(cache.stats().stampRetries).toBe(3)
      await clock.advance(2000)
      expect(cache.stats().stampRetries).toBe(6)
      await clock.advance(3990)
      expect(cache.stats().stampRetries).toBe(6)
      expect(cache.stats().stampFailures).toBe(0)
      // The write waited for them: until a put lands, other isolates see the old tokens.
      expect(returned).toBe(false)
      await clock.advance(10)
      expect(cache.stats().stampRetries).toBe(9)
      expect(cache.stats().stampFailures).toBe(3)
      // Given up on: the write returns (README *Limits* says what that leaves).
      const note = await created
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
