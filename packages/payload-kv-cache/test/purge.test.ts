import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import type { CountingKV } from '@pkc/testkit'
import { countingKV, plant } from '@pkc/testkit'
import type { Payload } from 'payload'
import type { KVListResult, KVNamespaceLike } from '../src/index.js'
import type { Pair } from './support/app.js'
import { useTestEnv } from './support/env.js'
import { spyOnDatabase } from './support/spy.js'
import { ManualClock } from './support/clock.js'

/** The prefix strategy's listing and `purge()`, on SQLite with Miniflare's KV. */
const env = useTestEnv('sqlite')

async function countUnder(kv: KVNamespaceLike, prefix: string): Promise<number> {
  let total = 0
  let cursor: string | undefined
  for (;;) {
    const page: KVListResult = await kv.list({ prefix, cursor: cursor ?? null })
    total += page.keys.length
    if (page.list_complete || !page.cursor) return total
    cursor = page.cursor
  }
}

/**
 * KV may answer a list with an empty page that is not the last (`list_complete: false`):
 * the first page of every listing is empty here, its cursor leading to the real first page.
 */
function emptyFirstPages(kv: CountingKV): CountingKV {
  return {
    ...kv,
    list: async (options) => {
      if (options?.cursor === 'empty-first') return kv.list({ ...options, cursor: null })
      if (!options?.cursor) {
        await kv.list({ ...options, limit: 1 })
        return { keys: [], list_complete: false, cursor: 'empty-first' }
      }
      return kv.list(options)
    },
  }
}

describe('prefix strategy: list and delete', () => {
  let pair: Pair
  let counted: CountingKV
  const prefix = 'purge-prefix'

  beforeAll(async () => {
    pair = await env.newPair({
      prefix,
      invalidation: 'prefix',
      purgeBudget: 100,
      wrapKV: (kv) => (counted = countingKV(kv)),
    })
  })

  it('a write deletes every entry of its scope within the budget inline and the rest in the background; reads bypass until it is done', async () => {
    const kv = env.kv()
    const note = await pair.cached.create({ collection: 'notes', data: { text: 'x' } })
    await pair.cache.settled()
    await plant(kv, prefix, 'c:notes', 300)
    const read = (p: Payload) => p.findByID({ collection: 'notes', id: note.id })
    await read(pair.cached)
    await pair.cache.settled()
    expect(await countUnder(kv, `${prefix}:c:notes:`)).toBe(301)

    const stats = pair.cache.stats()
    const listsBefore = counted.counts.list
    // On the adapter, so nothing but the write and its invalidation runs before we look.
    await pair.cached.db.updateOne({ collection: 'notes', id: note.id, data: { text: 'y' } })
    // What the write waited for: one list page and deletes up to the budget of 100; the
    // deletes continuing in the background have not answered yet.
    const deletedInline = pair.cache.stats().entriesDeleted - stats.entriesDeleted
    expect(counted.counts.list - listsBefore).toBe(1)
    expect(deletedInline).toBe(99)
    expect(pair.cache.stats().purgesDeferred).toBe(stats.purgesDeferred + 1)
    // The rest is still being deleted: this isolate reads the database meanwhile.
    const log = spyOnDatabase(pair.cached)
    expect((await read(pair.cached)).text).toBe('y')
    expect(log.reads).toEqual(['findOne:notes'])
    log.restore()

    await pair.cache.settled()
    expect(await countUnder(kv, `${prefix}:c:notes:`)).toBe(0)
    expect(pair.cache.stats().entriesDeleted - stats.entriesDeleted).toBe(301)
    expect(pair.cache.stats().purgeErrors).toBe(stats.purgeErrors)
  })

  it('an entry the listing misses (KV lists new keys up to a minute late) is not served by the isolate that wrote', async () => {
    // KV's list is eventually consistent: this namespace's lists leave out every key put
    // through it, as a listing made right after the fill would.
    const hidden = new Set<string>()
    let now = Date.UTC(2026, 10, 29)
    const local = await env.newPair({
      prefix: 'purge-lag',
      invalidation: 'prefix',
      // Time stands still, as on Workers between two I/O completions: the fill and the write
      // fall in the same millisecond.
      clock: { now: () => now, sleep: () => new Promise((resolve) => setImmediate(resolve)) },
      wrapKV: (kv) => ({
        get: kv.get.bind(kv),
        delete: kv.delete.bind(kv),
        put: (key, value, options) => {
          hidden.add(key)
          return kv.put(key, value, options)
        },
        list: async (options) => {
          const page = await kv.list(options)
          return { ...page, keys: page.keys.filter((key) => !hidden.has(key.name)) }
        },
      }),
    })
    const note = await local.cached.create({ collection: 'notes', data: { text: 'before' } })
    const read = (p: Payload) => p.find({ collection: 'notes', depth: 0, sort: 'id' })
    await local.cache.settled()
    now += 1
    await read(local.cached)
    await local.cache.settled()
    const log = spyOnDatabase(local.cached)
    await read(local.cached)
    expect(log.reads).toEqual([])
    await local.cached.update({ collection: 'notes', id: note.id, data: { text: 'after' } })
    await local.cache.settled()
    // The purge did not see the entry, so it is still in KV; this isolate reads past it.
    expect(await countUnder(env.kv(), 'purge-lag:c:notes:')).toBeGreaterThan(0)
    log.reset()
    const after = await read(local.cached)
    expect(log.reads).toEqual(['find:notes'])
    expect(after).toStrictEqual(await read(local.plain))
    expect(after.docs.map((doc) => doc.text)).toContain('after')
    log.restore()
  })

  it('an empty page with list_complete: false is not the end of the listing', async () => {
    const local = await env.newPair({ prefix: 'purge-empty', invalidation: 'prefix', wrapKV: (kv) => emptyFirstPages(countingKV(kv)) })
    await plant(env.kv(), 'purge-empty', 'c:notes', 30)
    await local.cached.create({ collection: 'notes', data: { text: 'x' } })
    await local.cache.settled()
    expect(await countUnder(env.kv(), 'purge-empty:c:notes:')).toBe(0)
  })

  it('a purge that fails leaves this isolate reading the database for that scope until a retried purge succeeds', async () => {
    const clock = new ManualClock(Date.now())
    let failing = false
    const local = await env.newPair({
      prefix: 'purge-failing',
      invalidation: 'prefix',
      clock,
      wrapKV: (kv) => ({
        ...countingKV(kv),
        delete: async (key: string) => {
          if (failing) throw new Error('KV DELETE failed: 429 Too Many Requests')
          return kv.delete(key)
        },
      }),
    })
    const note = await local.cached.create({ collection: 'notes', data: { text: 'old' } })
    const read = (p: Payload) => p.findByID({ collection: 'notes', id: note.id })
    await read(local.cached)
    await local.cache.settled()
    failing = true
    await local.cached.update({ collection: 'notes', id: note.id, data: { text: 'new' } })
    await local.cache.settled()
    expect(local.cache.stats().purgeErrors).toBeGreaterThan(0)
    // The old entry is still in KV; this isolate does not serve it.
    expect((await read(local.cached)).text).toBe('new')
    failing = false
    await clock.advance(1000)
    await read(local.cached)
    await local.cache.settled()
    // What was filled in the millisecond the retried purge started is not trusted: a later one is.
    await clock.advance(1)
    await read(local.cached)
    await local.cache.settled()
    const hits = local.cache.stats().hits
    expect(await read(local.cached)).toStrictEqual(await read(local.plain))
    expect(local.cache.stats().hits).toBe(hits + 1)
  })

  it('a write to posts deletes the entries of authors (whose join reads posts) but not of notes', async () => {
    const kv = env.kv()
    await plant(kv, prefix, 'c:authors', 20)
    await plant(kv, prefix, 'c:notes', 20)
    await pair.cached.create({ collection: 'posts', data: { title: 'p' } })
    await pair.cache.settled()
    expect(await countUnder(kv, `${prefix}:c:authors:`)).toBe(0)
    expect(await countUnder(kv, `${prefix}:c:notes:`)).toBe(20)
  })
})

describe('prefix strategy on Workers: one invocation’s 1,000 KV operations, waitUntil included', () => {
  it('a write over 1,200 entries stays under 1,000 operations in its invocation; a later request’s retry deletes the rest', async () => {
    const prefix = 'purge-workers'
    let counted!: CountingKV
    // What ctx.waitUntil holds for the invocation in flight.
    let invocation: Promise<unknown>[] = []
    const clock = new ManualClock(Date.now())
    const pair = await env.newPair({
      prefix,
      clock,
      invalidation: 'prefix',
      purgeBudget: 100,
      waitUntil: (promise) => invocation.push(promise),
      wrapKV: (kv) => (counted = countingKV(kv)),
    })
    const kv = env.kv()
    const note = await pair.cached.create({ collection: 'notes', data: { text: 'x' } })
    await Promise.all(invocation)
    await plant(kv, prefix, 'c:notes', 1200)
    const total = () => Object.values(counted.counts).reduce((a, b) => a + b, 0)

    // One invocation: the write, then everything it handed to waitUntil.
    invocation = []
    const before = total()
    const stats = pair.cache.stats()
    await pair.cached.db.updateOne({ collection: 'notes', id: note.id, data: { text: 'y' } })
    await Promise.all(invocation)
    const spent = total() - before
    expect(spent).toBeLessThanOrEqual(900)
    expect(pair.cache.stats().purgesDeferred - stats.purgesDeferred).toBe(1)
    const left = await countUnder(kv, `${prefix}:c:notes:`)
    expect(left).toBeGreaterThan(0)

    // A request a second later: this isolate reads the database (entries may remain) and
    // retries the purge (at most once a second), finishing what the first invocation could not.
    await clock.advance(1000)
    invocation = []
    const log = spyOnDatabase(pair.cached)
    const read = (p: Payload) => p.findByID({ collection: 'notes', id: note.id, depth: 0 })
    expect(await read(pair.cached)).toStrictEqual(await read(pair.plain))
    expect(log.reads).toEqual(['findOne:notes'])
    log.restore()
    await Promise.all(invocation)
    await pair.cache.settled()
    expect(await countUnder(kv, `${prefix}:c:notes:`)).toBe(0)
  })
})

describe('purge() on the cache handle', () => {
  let pair: Pair
  const prefix = 'purge-handle'

  beforeAll(async () => {
    pair = await env.newPair({ prefix })
  })

  afterAll(async () => {
    await pair.cache.settled()
  })

  it('deletes the named scopes’ entries and those of their readers, and invalidates them (stamp strategy)', async () => {
    const kv = env.kv()
    const author = await pair.cached.create({ collection: 'authors', data: { name: 'Ada' } })
    await pair.cached.create({ collection: 'posts', data: { title: 'p', author: author.id } })
    await pair.cache.settled()
    const readPosts = (p: Payload) => p.find({ collection: 'posts', depth: 0, where: { 'author.name': { equals: 'Ada' } } })
    await readPosts(pair.cached)
    await pair.cached.find({ collection: 'notes' })
    await pair.cache.settled()
    expect(await countUnder(kv, `${prefix}:c:posts:`)).toBeGreaterThan(0)

    // Behind Payload's back, as an import would.
    await pair.plain.update({ collection: 'authors', id: author.id, data: { name: 'Ada L.' } })
    await pair.cache.purge({ collections: ['authors'] })
    expect(await countUnder(kv, `${prefix}:c:posts:`)).toBe(0)
    expect(await countUnder(kv, `${prefix}:c:notes:`)).toBeGreaterThan(0)
    const after = await readPosts(pair.cached)
    expect(after.totalDocs).toBe(0)
    expect(after).toStrictEqual(await readPosts(pair.plain))
  })

  it('with no target, deletes every entry of the prefix, collections and globals', async () => {
    const kv = env.kv()
    await pair.cached.find({ collection: 'notes' })
    await pair.cached.findGlobal({ slug: 'banner' })
    await pair.cache.settled()
    expect(await countUnder(kv, `${prefix}:g:`)).toBeGreaterThan(0)
    await pair.cache.purge()
    expect(await countUnder(kv, `${prefix}:c:`)).toBe(0)
    expect(await countUnder(kv, `${prefix}:g:`)).toBe(0)
  })
})
