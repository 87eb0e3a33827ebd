import { beforeAll, describe, expect, it, jest } from '@jest/globals'
import { closePayload } from '@pkc/testkit'
import type { Payload } from 'payload'
import { unwrapAdapter } from '../../src/index.js'
import { STAMP_SLOTS } from '../../src/invalidation/stamp-tokens.js'
import type { KVCacheHandle } from '../../src/index.js'
import type { KVCacheClock } from '../../src/internals.js'
import { withTestHooks } from '../../src/internals.js'
import type { Database, Pair } from '../support/app.js'
import { ManualClock } from '../support/clock.js'
import { startPayload } from '../support/app.js'
import type { TestEnv } from '../support/env.js'
import { withKVCache } from '../../src/index.js'
import type { Seed } from '../support/seed.js'
import { seed } from '../support/seed.js'

interface Isolate {
  payload: Payload
  cache: KVCacheHandle
}

let isolates = 0

/** A fill that raced a write is never served (README guarantee 3). */
export function raceSuite(env: TestEnv): void {
  describe('the stale-set race', () => {
    let pair: Pair
    let data: Seed

    beforeAll(async () => {
      pair = await env.newPair()
      data = await seed(pair.cached)
    })

    it('a miss whose database read straddles a committed write does not leave stale data behind', async () => {
      const id = data.posts[3]!.id
      // No page size: this list keeps to the collection stamp, read before the query. A precise
      // list would not even be filled (its member was written after the query began: the
      // member race, suites/lists.ts).
      const read = (p: Payload) => p.find({ collection: 'posts', depth: 0, pagination: false, where: { id: { equals: id } } })
      await pair.cache.invalidateAll()
      const inner = unwrapAdapter(pair.cached.db) as unknown as { find: (args: unknown) => Promise<unknown> }
      const original = inner.find
      let raced = false
      // The database answers with the old row, then a write commits (and invalidates)
      // before the answer reaches the cache, which then fills with the old row.
      const spy = jest.spyOn(inner, 'find').mockImplementation(async function (this: unknown, args: unknown) {
        const result = await original.call(this, args)
        if (!raced && (args as { collection?: string }).collection === 'posts') {
          raced = true
          await pair.cached.update({ collection: 'posts', id, data: { title: 'Written mid-read' } })
        }
        return result
      })
      const fillsBefore = pair.cache.stats().fills
      const fillSkipsBefore = pair.cache.stats().fillSkips
      try {
        const stale = await read(pair.cached)
        expect(raced).toBe(true)
        expect(stale.docs[0]!.title).not.toBe('Written mid-read')
        await pair.cache.settled()
        if (env.strategy === 'stamp') {
          // The old row was written to KV: the race really happened, and only the stamp saves us.
          expect(pair.cache.stats().fills).toBeGreaterThan(fillsBefore)
        } else {
          // Prefix: the isolate saw its own write start during the read and did not fill.
          expect(pair.cache.stats().fillSkips).toBeGreaterThan(fillSkipsBefore)
        }
      } finally {
        spy.mockRestore()
      }
      const fresh = await read(pair.cached)
      expect(fresh.docs[0]!.title).toBe('Written mid-read')
      expect(fresh).toStrictEqual(await read(pair.plain))
    })
  })

  describe('two isolates on one database and one KV namespace', () => {
    let database: Database
    beforeAll(async () => {
      database = await env.newDatabase()
    })

    async function twoIsolates<T>(clock: KVCacheClock | undefined, run: (a: Isolate, b: Isolate) => Promise<T>): Promise<T> {
      const prefix = `iso${Date.now().toString(36)}${isolates++}`
      const a = withKVCache(database.adapter(), withTestHooks({ kv: env.kv(), prefix, invalidation: env.strategy }, { clock }))
      const b = withKVCache(database.adapter(), withTestHooks({ kv: env.kv(), prefix, invalidation: env.strategy }, { clock }))
      const isolateA = { payload: await startPayload(a), cache: a.kvCache }
      const isolateB = { payload: await startPayload(b), cache: b.kvCache }
      try {
        return await run(isolateA, isolateB)
      } finally {
        const settled = Promise.all([a.kvCache.settled(), b.kvCache.settled()])
        await (clock instanceof ManualClock ? clock.until(settled) : settled)
        await closePayload(isolateA.payload)
        await closePayload(isolateB.payload)
      }
    }

    it('a write through one is seen by the next read through the other; a second write to the scope within the same second, once its trailing stamp write lands', async () => {
      const clock = new ManualClock(Date.now())
      await twoIsolates(clock, async (a, b) => {
        const post = await a.payload.create({ collection: 'notes', data: { text: 'first' } })
        const read = (p: Payload) => p.findByID({ collection: 'notes', id: post.id })
        expect((await read(a.payload)).text).toBe('first')
        await a.cache.settled()
        // B is served A's fill: the namespace is shared.
        const hitsBefore = b.cache.stats().hits
        expect((await read(b.payload)).text).toBe('first')
        expect(b.cache.stats().hits).toBe(hitsBefore + 1)

        // A quiet second since A's last stamp write: this one goes out with the write.
        await clock.advance(1000)
        await a.payload.update({ collection: 'notes', id: post.id, data: { text: 'second' } })
        expect((await read(b.payload)).text).toBe('second')
        await b.cache.settled()
        await b.payload.update({ collection: 'notes', id: post.id, data: { text: 'third' } })
        expect((await read(a.payload)).text).toBe('third')
        await a.cache.settled()

        // Inside B's second: the stamp write trails (KV takes one write per second per key).
        // B never reads stale; A does until the trailing write lands, and not after.
        await b.payload.update({ collection: 'notes', id: post.id, data: { text: 'fourth' } })
        expect((await read(b.payload)).text).toBe('fourth')
        await clock.until(b.cache.settled())
        expect((await read(a.payload)).text).toBe('fourth')
      })
    })

    it(`a miss in one isolate whose database read straddles a write in the other: ${env.strategy === 'stamp' ? 'never served stale' : "served stale until TTL in the other isolate (the prefix strategy's known weakness), never in the writer"}`, async () => {
      const clock = new ManualClock(Date.now())
      await twoIsolates(clock, async (a, b) => {
        const note = await a.payload.create({ collection: 'notes', data: { text: 'old' } })
        const read = (p: Payload) => p.findByID({ collection: 'notes', id: note.id, depth: 0 })
        const inner = unwrapAdapter(b.payload.db) as unknown as { findOne: (args: unknown) => Promise<unknown> }
        const original = inner.findOne
        // B's database read answers 'old'; A's write commits and invalidates before B fills.
        const spy = jest.spyOn(inner, 'findOne').mockImplementationOnce(async function (this: unknown, args: unknown) {
          const result = await original.call(this, args)
          await a.payload.update({ collection: 'notes', id: note.id, data: { text: 'new' } })
          // B fills after A's write began, as real time would have it.
          await clock.advance(1)
          return result
        })
        try {
          expect((await read(b.payload)).text).toBe('old')
        } finally {
          spy.mockRestore()
        }
        await clock.until(Promise.all([a.cache.settled(), b.cache.settled()]))
        const seenByB = await read(b.payload)
        const seenByA = await read(a.payload)
        if (env.strategy === 'stamp') {
          expect(seenByB.text).toBe('new')
          expect(seenByA.text).toBe('new')
        } else {
          // B filled the old row after A deleted the entries: other isolates are served it,
          // but never the one that wrote (guarantee 2): the entry's read began before its write.
          expect(seenByB.text).toBe('old')
          expect(seenByA.text).toBe('new')
          await a.cache.purge({ collections: ['notes'] })
          expect((await read(b.payload)).text).toBe('new')
        }
      })
    })

    if (env.strategy === 'stamp')
      it('with real timers, a trailing stamp write lands on its own and settled() waits for it', async () => {
        await twoIsolates(undefined, async (a, b) => {
          const note = await a.payload.create({ collection: 'notes', data: { text: 'one' } })
          const read = (p: Payload) => p.findByID({ collection: 'notes', id: note.id })
          await read(b.payload)
          await b.cache.settled()
          // The create and the first updates take every slot of the collection's stamp and the
          // note's this second: the last update's tokens trail them, and it returns first.
          for (let i = 1; i <= STAMP_SLOTS; i++)
            await a.payload.update({ collection: 'notes', id: note.id, data: { text: i === STAMP_SLOTS ? 'two' : `draft ${i}` } })
          const stampWrites = a.cache.stats().stampWrites
          await a.cache.settled()
          // One trailing put each for the collection's stamp and the note's, unless this
          // machine took over a second for the updates; and one put for each stamp whose last
          // token opened a burst, which closes it (README *Write bursts*): the collection's, the
          // note's, its `text` and `updatedAt` fields' (list precision), and the lock
          // collection's two (Payload clears the note's lock at each save).
          expect(a.cache.stats().stampWrites - stampWrites).toBeLessThanOrEqual(2 + 6)
          const burstBypasses = b.cache.breakdown().totals.bypassesBurst
          expect((await read(b.payload)).text).toBe('two')
          // settled() waited for those too: no burst of A's keeps B off the collection.
          expect(b.cache.breakdown().totals.bypassesBurst).toBe(burstBypasses)
        })
      })
  })
}
