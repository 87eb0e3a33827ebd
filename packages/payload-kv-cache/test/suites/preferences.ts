import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import type { Payload, Where } from 'payload'
import { createLocalReq } from 'payload'
import type { Pair } from '../support/app.js'
import type { TestEnv } from '../support/env.js'

/**
 * The admin's preferences, cached by default (README, Not cached by default; issue 22): read
 * and written exactly as Payload's own preference operations do (payload/dist/preferences/
 * operations/findOne.js and update.js: a `find` by key and user, newest first, one row, and
 * an `upsert` on the same `where`), by two editors. Every read through the cache equals the
 * database's answer, after each editor's writes and the other's.
 */
export function preferencesSuite(env: TestEnv): void {
  describe('the admin’s preferences', () => {
    let pair: Pair
    const editors: Array<{ id: number | string }> = []

    beforeAll(async () => {
      pair = await env.newPair()
      for (const email of ['pref-a@example.com', 'pref-b@example.com'])
        editors.push(await pair.plain.create({ collection: 'users', data: { email, password: 'secret-3' } }))
    })

    afterAll(async () => {
      // Undefined when beforeAll failed: its own error is the one to read.
      await pair?.cache.settled()
    })

    const where = (editor: { id: number | string }, key: string): Where => ({
      and: [{ key: { equals: key } }, { 'user.value': { equals: editor.id } }, { 'user.relationTo': { equals: 'users' } }],
    })
    const read = (p: Payload, editor: { id: number | string }, key: string) =>
      p.db.find({ collection: 'payload-preferences', limit: 1, pagination: false, sort: '-updatedAt', where: where(editor, key) })
    const write = async (editor: { id: number | string }, key: string, value: unknown) => {
      const data = { key, user: { relationTo: 'users', value: editor.id }, value }
      const req = await createLocalReq({}, pair.cached)
      if (env.kind !== 'd1') return pair.cached.db.upsert({ collection: 'payload-preferences', data, req, where: where(editor, key) })
      // @payloadcms/db-d1-sqlite 3.87.1's upsert on this where writes nothing in Miniflare's D1
      // (no error, no row, uncached too): the same writes as an update or a create instead.
      const existing = (await read(pair.plain, editor, key)).docs[0]
      return existing
        ? pair.cached.db.updateOne({ collection: 'payload-preferences', id: existing.id, data, req })
        : pair.cached.db.create({ collection: 'payload-preferences', data, req })
    }

    /** Every editor's every key, cached and uncached. */
    async function expectAllEqual(keys: readonly string[]): Promise<void> {
      for (const editor of editors)
        for (const key of keys)
          expect({ editor: editor.id, key, read: await read(pair.cached, editor, key) }).toStrictEqual({
            editor: editor.id,
            key,
            read: await read(pair.plain, editor, key),
          })
    }

    it('two editors’ preferences: each write is seen at the next read, its own editor’s and key’s and every other’s stay equal to the database, and repeats are served from KV', async () => {
      const [a, b] = editors as [{ id: number | string }, { id: number | string }]
      const keys = ['nav', 'collection-posts'] as const
      await expectAllEqual(keys)
      await pair.cache.settled()
      // Cached: read again without a write, every read is a hit.
      const hits = pair.cache.stats().hits
      await expectAllEqual(keys)
      expect(pair.cache.stats().hits - hits).toBe(editors.length * keys.length)

      await write(a, 'nav', { open: true })
      await expectAllEqual(keys)
      await write(b, 'nav', { open: false })
      await expectAllEqual(keys)
      await write(a, 'collection-posts', { columns: ['title'], limit: 25 })
      await expectAllEqual(keys)
      await pair.cache.settled()
      await write(a, 'collection-posts', { columns: ['title', 'views'], limit: 10 })
      // The database holds what the writes wrote: the comparisons above compared something.
      expect(((await read(pair.plain, a, 'collection-posts')).docs[0] as { value?: unknown } | undefined)?.value).toStrictEqual({
        columns: ['title', 'views'],
        limit: 10,
      })
      await expectAllEqual(keys)
      // As Payload does when a user is deleted (preferences/deleteUserPreferences.js).
      await pair.cached.db.deleteMany({
        collection: 'payload-preferences',
        where: { and: [{ 'user.value': { equals: b.id } }, { 'user.relationTo': { equals: 'users' } }] },
      })
      await expectAllEqual(keys)
    })

    it('one editor’s write of a preference it already has leaves every other editor’s preferences served from KV (issue 22: precise per editor and key)', async () => {
      const [a, b] = editors as [{ id: number | string }, { id: number | string }]
      const keys = ['list-columns', 'nav-groups'] as const
      // Each editor's first write of a key creates its row: every reader of that key sees it.
      for (const editor of [a, b]) for (const key of keys) await write(editor, key, { n: 0 })
      await expectAllEqual(keys)
      await pair.cache.settled()
      // B's first save of a row it has: A's entries, filled before without asking a count, go
      // stale once (a field they sort on changed); refilled, the count says they are complete.
      await write(b, 'list-columns', { n: 0.5 })
      await expectAllEqual(keys)
      await pair.cache.settled()
      for (let n = 1; n <= 3; n++) {
        await write(b, 'list-columns', { n })
        await pair.cache.settled()
        const hits = pair.cache.stats().hits
        for (const key of keys)
          expect({ key, read: await read(pair.cached, a, key) }).toStrictEqual({ key, read: await read(pair.plain, a, key) })
        // A's two keys served from KV, though B's write changed the sort field (`updatedAt`) of
        // a row of one of them (the prefix strategy drops the collection's entries on a write).
        if (env.strategy === 'stamp') expect(pair.cache.stats().hits - hits).toBe(keys.length)
        await expectAllEqual(keys)
      }
    })
  })
}
