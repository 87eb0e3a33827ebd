import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { closePayload } from '@pkc/testkit'
import type { Payload, PayloadRequest } from 'payload'
import type { WithKVCache } from '../src/index.js'
import { unwrapAdapter, withKVCache } from '../src/index.js'
import { withTestHooks } from '../src/internals.js'
import type { Database } from './support/app.js'
import { startPayload } from './support/app.js'
import { ManualClock } from './support/clock.js'
import type { StampObjects } from './support/durable-object.js'
import { startStampObjects } from './support/durable-object.js'
import type { Edge } from './support/edge.js'
import { edgeKV } from './support/edge.js'
import { useTestEnv } from './support/env.js'

/**
 * Strong consistency (issue 15; README, Strong consistency): the stamps of strong scopes are
 * kept in Miniflare's Durable Objects running the library's `KVCacheStamps`; two isolates in
 * two "locations" share the database, the objects and one KV namespace whose locations see
 * each other's writes `LAG_MS` late. A strong scope is never stale in the other location; an
 * eventual one is, within KV's window; a failing or hanging object turns into database reads.
 */
const env = useTestEnv('sqlite')
const LAG_MS = 20_000

type Adapter = WithKVCache<ReturnType<Database['adapter']>>

interface Isolate {
  payload: Payload
  adapter: Adapter
}

describe('strong consistency through a Durable Object', () => {
  let clock: ManualClock
  let edge: Edge
  let database: Database
  let plain: Payload
  let objects: StampObjects
  const isolates: Isolate[] = []
  let prefixes = 0

  beforeAll(async () => {
    database = await env.newDatabase({ transactions: true })
    plain = await startPayload(database.adapter())
    objects = await startStampObjects()
  })

  afterAll(async () => {
    for (const { payload } of isolates) await closePayload(payload)
    await closePayload(plain)
    await objects.dispose()
  })

  beforeEach(() => {
    objects.fault = 'none'
  })

  /** Two locations; `notes` is strong, the rest eventual. */
  async function twoLocations(): Promise<[Isolate, Isolate]> {
    clock = new ManualClock(Date.now())
    edge = edgeKV(env.kv(), clock.now)
    const prefix = `strong${prefixes++}`
    const start = async (location: string): Promise<Isolate> => {
      const adapter = withKVCache(
        database.adapter(),
        withTestHooks(
          {
            kv: edge.location(location, LAG_MS),
            prefix,
            strongStamps: objects.namespace,
            kvTimeoutMs: 500,
            collections: { notes: { consistency: 'strong' } },
          },
          { clock },
        ),
      )
      const isolate = { payload: await startPayload(adapter), adapter }
      isolates.push(isolate)
      return isolate
    }
    return [await start('a'), await start('b')]
  }

  async function settle(...list: Isolate[]): Promise<void> {
    await clock.until(Promise.all(list.map((isolate) => isolate.adapter.kvCache.settled())))
  }

  const note = (p: Payload, id: number | string) => p.findByID({ collection: 'notes', id, depth: 0 })
  const author = (p: Payload, id: number | string) => p.findByID({ collection: 'authors', id, depth: 0 })
  /** As a request asks for it: `req.context.kvCache` (a `find`'s adapter call carries the request). */
  const authorStrongly = async (p: Payload, id: number | string) =>
    (
      await p.find({
        collection: 'authors',
        where: { id: { equals: id } },
        depth: 0,
        context: { kvCache: { consistency: 'strong' } },
      })
    ).docs[0]!

  /** Reads through both until each is served from KV. */
  async function warm(read: (p: Payload) => Promise<unknown>, ...list: Isolate[]): Promise<void> {
    for (const isolate of list) {
      for (let i = 0; i < 5; i++) {
        const hits = isolate.adapter.kvCache.stats().hits
        await read(isolate.payload)
        await settle(isolate)
        if (isolate.adapter.kvCache.stats().hits > hits) break
        await clock.advance(LAG_MS)
      }
    }
  }

  it('a strong scope is never stale in the other location; an eventual one is, within KV’s window', async () => {
    const [a, b] = await twoLocations()
    const n = await plain.create({ collection: 'notes', data: { text: 'v0' } })
    const ada = await plain.create({ collection: 'authors', data: { name: 'Ada' } })
    await warm((p) => note(p, n.id), a, b)
    await warm((p) => author(p, ada.id), a, b)
    let staleEventual = 0
    for (let i = 1; i <= 5; i++) {
      await clock.waitFor(a.payload.update({ collection: 'notes', id: n.id, data: { text: `v${i}` } }))
      await clock.waitFor(a.payload.update({ collection: 'authors', id: ada.id, data: { name: `Ada ${i}` } }))
      // Right after the write returned, in the other location, whose KV still shows the old stamps.
      expect(await note(b.payload, n.id)).toStrictEqual(await note(plain, n.id))
      if ((await author(b.payload, ada.id)).name !== `Ada ${i}`) staleEventual++
      await settle(a, b)
      // B refills under the new tokens and serves them from KV again.
      const hits = b.adapter.kvCache.stats().hits
      expect(await note(b.payload, n.id)).toStrictEqual(await note(plain, n.id))
      expect(b.adapter.kvCache.stats().hits).toBe(hits + 1)
      await clock.advance(1500)
    }
    // KV's lag really was in play for the eventual scope.
    expect(staleEventual).toBeGreaterThan(0)
    const totals = b.adapter.kvCache.breakdown().totals
    expect(totals.strongReads).toBeGreaterThan(0)
    expect(a.adapter.kvCache.breakdown().totals.strongBumps).toBeGreaterThan(0)
  })

  it('with the binding, the auth collection and document locks are strong scopes by default: cached, and a change to a user or a lock taken or released in one location is seen at once in the other', async () => {
    const [a, b] = await twoLocations()
    const user = await plain.create({
      collection: 'users',
      data: { email: `strong${prefixes}@example.com`, password: 'secret-1', name: 'Ada' },
    })
    const post = await plain.create({ collection: 'posts', data: { title: 'Locked post' } })
    const readUser = (p: Payload) => p.findByID({ collection: 'users', id: user.id, depth: 0 })
    const readLocks = (p: Payload) =>
      p.find({ collection: 'payload-locked-documents', where: { 'document.value': { equals: post.id } }, depth: 0, sort: 'id' })
    for (const read of [readUser, readLocks]) await warm(read, a, b)
    // Served from KV in both locations: the defaults cache them (issue 22).
    for (const isolate of [a, b]) {
      const hits = isolate.adapter.kvCache.stats().hits
      await readUser(isolate.payload)
      await readLocks(isolate.payload)
      expect(isolate.adapter.kvCache.stats().hits).toBe(hits + 2)
    }
    const strongReads = b.adapter.kvCache.breakdown().totals.strongReads
    // A change to the user (as a logout, a lock-out or a role change is), then a lock taken and released.
    await clock.waitFor(a.payload.update({ collection: 'users', id: user.id, data: { name: 'Ada, signed out' } }))
    expect(await readUser(b.payload)).toStrictEqual(await readUser(plain))
    const lock = await clock.waitFor(
      a.payload.create({
        collection: 'payload-locked-documents',
        data: { document: { relationTo: 'posts', value: post.id }, user: { relationTo: 'users', value: user.id } },
      }),
    )
    const locked = await readLocks(b.payload)
    expect(locked.docs.map((doc) => doc.id)).toStrictEqual([lock.id])
    expect(locked).toStrictEqual(await readLocks(plain))
    await settle(a, b)
    await readLocks(b.payload)
    await clock.waitFor(a.payload.delete({ collection: 'payload-locked-documents', id: lock.id }))
    expect((await readLocks(b.payload)).docs).toStrictEqual([])
    expect(b.adapter.kvCache.breakdown().totals.strongReads).toBeGreaterThan(strongReads)
  })

  it('a flush (invalidateAll, a migration) reaches every strong scope, though no read asks a shared object', async () => {
    const [a, b] = await twoLocations()
    const n = await plain.create({ collection: 'notes', data: { text: 'flushed' } })
    await warm((p) => note(p, n.id), a, b)
    // Behind the cache, then announced the way a migration's flush is.
    await plain.update({ collection: 'notes', id: n.id, data: { text: 'changed behind the cache' } })
    await clock.waitFor(a.adapter.kvCache.invalidateAll())
    expect(await note(b.payload, n.id)).toStrictEqual(await note(plain, n.id))
  })

  it('one request asks for strong reads of an eventual scope (req.context.kvCache)', async () => {
    const [a, b] = await twoLocations()
    const grace = await plain.create({ collection: 'authors', data: { name: 'Grace' } })
    await warm((p) => authorStrongly(p, grace.id), a, b)
    await warm((p) => author(p, grace.id), a, b)
    const reads = b.adapter.kvCache.breakdown().totals.strongReads
    await clock.waitFor(a.payload.update({ collection: 'authors', id: grace.id, data: { name: 'Grace H.' } }))
    expect((await authorStrongly(b.payload, grace.id)).name).toBe('Grace H.')
    // findByID's adapter call carries no request: `kvCache.run` reaches it.
    expect((await b.adapter.kvCache.run({ consistency: 'strong' }, () => author(b.payload, grace.id))).name).toBe('Grace H.')
    expect(b.adapter.kvCache.breakdown().totals.strongReads).toBeGreaterThan(reads)
    // The same call without it is eventual: KV's lag still hides the write there.
    expect((await author(b.payload, grace.id)).name).toBe('Grace')
  })

  it('an object that fails or hangs turns strong reads into database reads, and writes still return', async () => {
    const [a, b] = await twoLocations()
    const n = await plain.create({ collection: 'notes', data: { text: 'ok' } })
    await warm((p) => note(p, n.id), a, b)
    for (const fault of ['error', 'hang'] as const) {
      objects.fault = fault
      const bypasses = b.adapter.kvCache.breakdown().totals.bypassesStrong
      const reading = note(b.payload, n.id)
      await clock.until(reading)
      expect(await reading).toStrictEqual(await note(plain, n.id))
      expect(b.adapter.kvCache.breakdown().totals.bypassesStrong).toBe(bypasses + 1)
      // The write commits and returns once its bump's retries are given up; counted.
      const failures = a.adapter.kvCache.breakdown().totals.strongFailures
      const writing = a.payload.update({ collection: 'notes', id: n.id, data: { text: `after ${fault}` } })
      await clock.until(writing)
      await writing
      expect(a.adapter.kvCache.breakdown().totals.strongFailures).toBeGreaterThan(failures)
    }
    objects.fault = 'none'
    // The object is back, but it never saw the last writes: the KV stamps carry them, so a
    // strong read is no worse than an eventual one (README, Strong consistency).
    await clock.advance(LAG_MS)
    await settle(a, b)
    expect(await note(b.payload, n.id)).toStrictEqual(await note(plain, n.id))
  })

  it('a write in a transaction is seen by the other location once it commits, not before', async () => {
    const [a, b] = await twoLocations()
    const n = await plain.create({ collection: 'notes', data: { text: 'committed' } })
    await warm((p) => note(p, n.id), a, b)
    const transactionID = await a.payload.db.beginTransaction()
    const req = { transactionID: transactionID! } as Partial<PayloadRequest>
    await a.payload.update({ collection: 'notes', id: n.id, data: { text: 'in flight' }, req })
    expect((await note(b.payload, n.id)).text).toBe('committed')
    // A write waits through its stamp puts' retries (README *Write bursts*), on this clock: a
    // commit awaited without moving it hung a full run when a put timed out on the busy machine.
    await clock.waitFor(a.payload.db.commitTransaction(transactionID!))
    expect((await note(b.payload, n.id)).text).toBe('in flight')
  })

  it('a miss whose database read straddles a write in the other location never leaves the old row behind', async () => {
    const [a, b] = await twoLocations()
    const n = await plain.create({ collection: 'notes', data: { text: 'old' } })
    const inner = unwrapAdapter(b.payload.db) as unknown as { findOne: (args: unknown) => Promise<unknown> }
    const original = inner.findOne
    let held = false
    inner.findOne = async function (this: unknown, args: unknown) {
      const row = await original.call(this, args)
      if (!held) {
        held = true
        // B has read the old row; A's write commits before B fills.
        await a.payload.update({ collection: 'notes', id: n.id, data: { text: 'new' } })
      }
      return row
    }
    try {
      // B's read waits for A's write.
      expect((await clock.waitFor(note(b.payload, n.id))).text).toBe('old')
    } finally {
      inner.findOne = original
    }
    await settle(a, b)
    expect((await note(b.payload, n.id)).text).toBe('new')
  })
})
