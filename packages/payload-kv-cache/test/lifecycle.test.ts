import { beforeAll, describe, expect, it, jest } from '@jest/globals'
import { sql } from '@payloadcms/db-sqlite'
import { closePayload } from '@pkc/testkit'
import type { CollectionConfig, Field, Payload } from 'payload'
import { reload } from 'payload'
import { FLUSH_OPERATIONS, kindOf, READ_OPERATIONS, TRANSACTION_OPERATIONS, WRITE_OPERATIONS } from '../src/operations.js'
import { unwrapAdapter, withKVCache } from '../src/index.js'
import { withTestHooks } from '../src/internals.js'
import type { Pair } from './support/app.js'
import { siteCollections, siteConfig, startPayload } from './support/app.js'
import { skippingClock } from './support/clock.js'
import { useTestEnv } from './support/env.js'
import { spyOnDatabase } from './support/spy.js'

const env = useTestEnv('sqlite')

describe('operation table', () => {
  it('routes every method the design names, and only those', () => {
    expect(READ_OPERATIONS).toHaveLength(10)
    expect(WRITE_OPERATIONS).toHaveLength(14)
    for (const name of READ_OPERATIONS) expect(kindOf(name)).toBe('read')
    for (const name of WRITE_OPERATIONS) expect(kindOf(name)).toBe('write')
    for (const name of TRANSACTION_OPERATIONS) expect(kindOf(name)).toBe('transaction')
    for (const name of FLUSH_OPERATIONS) expect(kindOf(name)).toBe('flush')
    for (const name of ['init', 'connect', 'destroy', 'createMigration', 'requireDrizzleKit']) expect(kindOf(name)).toBe('pass')
    for (const name of ['someFutureMethod', 'deleteManyVersions']) expect(kindOf(name)).toBe('unknown')
  })
})

describe('adapter lifecycle and pass-through', () => {
  let pair: Pair
  const readNotes = (p: Payload) => p.find({ collection: 'notes', sort: 'text' })

  beforeAll(async () => {
    pair = await env.newPair()
    await pair.cached.create({ collection: 'notes', data: { text: 'one' } })
  })

  async function warm(): Promise<void> {
    await pair.cache.settled()
    await readNotes(pair.cached)
    await pair.cache.settled()
    const log = spyOnDatabase(pair.cached)
    await readNotes(pair.cached)
    expect(log.reads).toEqual([])
    log.restore()
  }

  it('raw SQL through payload.db.execute invalidates everything', async () => {
    await warm()
    const db = pair.cached.db as unknown as { drizzle: unknown; execute: (args: unknown) => Promise<unknown> }
    await db.execute({ drizzle: db.drizzle, sql: sql`update notes set text = 'raw'` })
    const after = await readNotes(pair.cached)
    expect(after.docs.map((d) => d.text)).toEqual(['raw'])
    expect(after).toStrictEqual(await readNotes(pair.plain))
  })

  it('writes made behind Payload are seen after kvCache.invalidate()', async () => {
    await warm()
    // Straight on the inner adapter: the cache cannot know.
    const inner = unwrapAdapter(pair.cached.db) as unknown as { drizzle: { run: (q: unknown) => Promise<unknown> } }
    await inner.drizzle.run(sql`update notes set text = 'behind'`)
    expect((await readNotes(pair.cached)).docs[0]!.text).toBe('raw')
    await pair.cached.db.kvCache!.invalidate({ collections: ['notes'] })
    expect((await readNotes(pair.cached)).docs[0]!.text).toBe('behind')
  })

  it('survives hot reload: destroy, init and connect again on the same proxy', async () => {
    await warm()
    const db = pair.cached.db
    await db.destroy?.()
    await db.init?.()
    await db.connect?.({ hotReload: true })
    await pair.cached.create({ collection: 'notes', data: { text: 'after reload' } })
    const after = await readNotes(pair.cached)
    expect(after.docs.map((d) => d.text)).toContain('after reload')
    expect(after).toStrictEqual(await readNotes(pair.plain))
  })

  it('forwards a method it does not know, with the adapter as `this`', async () => {
    const inner = unwrapAdapter(pair.cached.db) as unknown as Record<string, unknown>
    inner.someFutureMethod = function (this: unknown, value: number) {
      return { self: this === inner, value }
    }
    const result = (pair.cached.db as unknown as { someFutureMethod: (v: number) => unknown }).someFutureMethod(7)
    expect(result).toEqual({ self: true, value: 7 })
    delete inner.someFutureMethod
    expect('someFutureMethod' in pair.cached.db).toBe(false)
  })

  it('warns of a method it does not know once, however often it is called', () => {
    const inner = unwrapAdapter(pair.cached.db) as unknown as Record<string, unknown>
    const debug = jest.spyOn(pair.cached.logger, 'warn')
    try {
      inner.anotherFutureMethod = () => 'ok'
      const db = pair.cached.db as unknown as { anotherFutureMethod: () => string }
      for (let i = 0; i < 3; i++) expect(db.anotherFutureMethod()).toBe('ok')
      // A new function under the same name (an adapter reassigning it) is not news either.
      inner.anotherFutureMethod = () => 'again'
      expect(db.anotherFutureMethod()).toBe('again')
      const lines = debug.mock.calls.map((call) => String(call[0])).filter((line) => line.includes('anotherFutureMethod'))
      expect(lines).toHaveLength(1)
    } finally {
      debug.mockRestore()
      delete inner.anotherFutureMethod
    }
  })

  it('payload.db.migrate() invalidates everything, even when it had nothing to run', async () => {
    await warm()
    const log = spyOnDatabase(pair.cached)
    try {
      await (pair.cached.db as unknown as { migrate: (args?: unknown) => Promise<void> }).migrate()
      expect(await readNotes(pair.cached)).toStrictEqual(await readNotes(pair.plain))
      expect(log.reads).toContain('find:notes')
    } finally {
      log.restore()
    }
  })

  it('payload.db.dropDatabase() writes a new global stamp, so no entry survives it', async () => {
    const local = await env.newPair({ prefix: 'lifecycle-drop' })
    await local.cached.create({ collection: 'notes', data: { text: 'doomed' } })
    await readNotes(local.cached)
    await local.cache.settled()
    const stamp = async () => env.kv().get('lifecycle-drop:stamp:*', 'text')
    const before = await stamp()
    const db = local.cached.db as unknown as { dropDatabase: (args: { adapter: unknown }) => Promise<void> }
    await db.dropDatabase({ adapter: unwrapAdapter(local.cached.db) })
    await local.cache.settled()
    const after = await stamp()
    expect(after).not.toBeNull()
    expect(after).not.toBe(before)
  })

  it('exposes the handle on payload.db and on the withKVCache value alike', () => {
    expect(pair.cached.db.kvCache).toBe(pair.cache)
  })
})

describe('hot reload', () => {
  it('a reloaded config rebuilds keys and dependencies: a new relationship field is in the results and its target invalidates', async () => {
    const database = await env.newDatabase()
    const adapter = withKVCache(database.adapter(), withTestHooks({ kv: env.kv(), prefix: 'hot' }, { clock: skippingClock() }))
    const cached = await startPayload(adapter)
    let plain: Payload | undefined
    try {
      const category = await cached.create({ collection: 'categories', data: { title: 'News' } })
      const note = await cached.create({ collection: 'notes', data: { text: 'n' } })
      const readAll = (p: Payload) => p.find({ collection: 'notes', depth: 0 })
      await readAll(cached)
      await adapter.kvCache.settled()

      // What `next dev` does on a config change: the same Payload, a new config, db.init().
      const field: Field = { name: 'category', type: 'relationship', relationTo: 'categories' }
      const changed = (): CollectionConfig[] =>
        siteCollections().map((c) => (c.slug === 'notes' ? { ...c, fields: [...c.fields, field] } : c))
      await reload(await siteConfig(adapter, { collections: changed() }), cached, true)
      // The reload pushed the new column already; a second push trips over its index.
      plain = await startPayload(database.adapter({ push: false }), { collections: changed() })

      // Entries in the old shape (no `category` key) are not served.
      expect(await readAll(cached)).toStrictEqual(await readAll(plain))

      await cached.update({ collection: 'notes', id: note.id, data: { category: category.id } })
      const byCategory = (p: Payload) => p.find({ collection: 'notes', depth: 0, where: { 'category.title': { equals: 'News' } } })
      await adapter.kvCache.settled()
      await byCategory(cached)
      await adapter.kvCache.settled()
      const hits = adapter.kvCache.stats().hits
      expect((await byCategory(cached)).totalDocs).toBe(1)
      expect(adapter.kvCache.stats().hits).toBe(hits + 1)

      // notes now depends on categories: renaming the category changes what matches.
      await cached.update({ collection: 'categories', id: category.id, data: { title: 'Politics' } })
      const after = await byCategory(cached)
      expect(after.totalDocs).toBe(0)
      expect(after).toStrictEqual(await byCategory(plain))
    } finally {
      await adapter.kvCache.settled()
      if (plain) await closePayload(plain)
      await closePayload(cached)
    }
  })
})
