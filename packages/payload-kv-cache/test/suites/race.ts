import { beforeAll, describe, expect, it, jest } from '@jest/globals'
import type { Payload } from 'payload'
import { unwrapAdapter } from '../../src/index.js'
import type { Pair } from '../support/app.js'
import { closePayload, startPayload } from '../support/app.js'
import type { TestEnv } from '../support/env.js'
import { withKVCache } from '../../src/index.js'
import type { Seed } from '../support/seed.js'
import { seed } from '../support/seed.js'

/** A fill that raced a write is never served (DESIGN section 11.3). */
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
      const read = (p: Payload) => p.find({ collection: 'posts', depth: 0, where: { id: { equals: id } } })
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
      try {
        const stale = await read(pair.cached)
        expect(raced).toBe(true)
        expect(stale.docs[0]!.title).not.toBe('Written mid-read')
        await pair.cache.settled()
        // The old row was written to KV: the race really happened, and only the stamp saves us.
        expect(pair.cache.stats().fills).toBeGreaterThan(fillsBefore)
      } finally {
        spy.mockRestore()
      }
      const fresh = await read(pair.cached)
      expect(fresh.docs[0]!.title).toBe('Written mid-read')
      expect(fresh).toStrictEqual(await read(pair.plain))
    })
  })

  describe('two isolates on one database and one KV namespace', () => {
    it('a write through one is seen by the next read through the other', async () => {
      const database = await env.newDatabase()
      const prefix = `iso${Date.now().toString(36)}`
      const a = withKVCache(database.adapter(), { kv: env.kv(), prefix })
      const b = withKVCache(database.adapter(), { kv: env.kv(), prefix })
      const isolateA = await startPayload(a)
      const isolateB = await startPayload(b)
      try {
        const post = await isolateA.create({ collection: 'notes', data: { text: 'first' } })
        const read = (p: Payload) => p.findByID({ collection: 'notes', id: post.id })
        expect((await read(isolateA)).text).toBe('first')
        await a.kvCache.settled()
        // B is served A's fill: the namespace is shared.
        const hitsBefore = b.kvCache.stats().hits
        expect((await read(isolateB)).text).toBe('first')
        expect(b.kvCache.stats().hits).toBe(hitsBefore + 1)

        await isolateA.update({ collection: 'notes', id: post.id, data: { text: 'second' } })
        // The create bumped the notes stamp under a second ago, so this bump is a trailing
        // write (KV takes one write per second per key). A never reads stale meanwhile; B
        // may, until the write lands: real timers here, the one test that waits for them.
        expect((await read(isolateA)).text).toBe('second')
        await a.kvCache.settled()
        expect((await read(isolateB)).text).toBe('second')
        await b.kvCache.settled()
        await isolateB.update({ collection: 'notes', id: post.id, data: { text: 'third' } })
        expect((await read(isolateA)).text).toBe('third')
      } finally {
        await a.kvCache.settled()
        await b.kvCache.settled()
        await closePayload(isolateA)
        await closePayload(isolateB)
      }
    })
  })
}
