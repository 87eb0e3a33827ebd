import { afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import type { Payload } from 'payload'
import type { KVNamespaceLike } from '../src/index.js'
import type { Pair } from './support/app.js'
import { useTestEnv } from './support/env.js'
import { db, delta, listAll, useNotesPair } from './support/inspect.js'
import type { CallLog } from './support/spy.js'
import { spyOnDatabase } from './support/spy.js'

/** Which reads are cached, and for how long: TTLs, per-collection and per-operation settings, default exclusions, opting in. */
const env = useTestEnv('sqlite')

type PutOptions = { expirationTtl?: number; expiration?: number } | undefined

/** The real namespace, with the options of every put recorded. Wraps, never replaces. */
function recordingKV(kv: KVNamespaceLike): KVNamespaceLike & { puts: Array<{ key: string; options: PutOptions }> } {
  const puts: Array<{ key: string; options: PutOptions }> = []
  return {
    puts,
    get: ((key: string | string[], type: 'text') => kv.get(key as string, type)) as KVNamespaceLike['get'],
    put: (key, value, options) => {
      puts.push({ key, options })
      return kv.put(key, value, options)
    },
    delete: (key) => kv.delete(key),
    list: (options) => kv.list(options),
  }
}

describe('TTL and per-collection / per-operation policy (controlled clock)', () => {
  const start = Date.UTC(2030, 0, 1)
  let now = start
  let pair: Pair
  let log: CallLog
  let recorder: ReturnType<typeof recordingKV>
  const prefix = 'ttl'
  const ids: Record<string, number | string> = {}

  beforeAll(async () => {
    pair = await env.newPair({
      prefix,
      // Waits between stamp writes move this clock instead of passing real time.
      clock: {
        now: () => now,
        sleep: (ms) => {
          now += ms
          return new Promise((resolve) => setImmediate(resolve))
        },
      },
      ttl: 10,
      collections: {
        notes: false,
        posts: { operations: { findOne: { ttl: 5 } } },
        categories: { ttl: 30, operations: { count: true, findOne: false } },
      },
      globals: { banner: { ttl: 90 } },
      operations: { count: false, findDistinct: { ttl: 40 } },
      wrapKV: (kv) => (recorder = recordingKV(kv)),
    })
    const author = await pair.cached.create({ collection: 'authors', data: { name: 'Ada' } })
    await pair.cached.create({ collection: 'authors', data: { name: 'Grace' } })
    await pair.cached.create({ collection: 'categories', data: { title: 'News' } })
    const post = await pair.cached.create({ collection: 'posts', data: { title: 'One', author: author.id, views: 3 } })
    await pair.cached.create({ collection: 'notes', data: { text: 'n1' } })
    await pair.cached.updateGlobal({ slug: 'banner', data: { text: 'hello' } })
    ids.post = post.id
    ids.author = author.id
    log = spyOnDatabase(pair.cached)
  })

  /**
   * Fills an entry at `now`, then checks it is served at `aliveMs` and read from the database
   * again at `deadMs`; every result equals the uncached Payload's.
   */
  async function lifetime(read: (p: Payload) => Promise<unknown>, call: string, aliveMs: number, deadMs: number): Promise<void> {
    await pair.cache.settled()
    await pair.cache.invalidateAll()
    const filledAt = now
    log.reset()
    const first = await read(pair.cached)
    expect(log.reads).toEqual([call])
    await pair.cache.settled()

    now = filledAt + aliveMs
    log.reset()
    const hit = await read(pair.cached)
    expect(log.reads).toEqual([])

    now = filledAt + deadMs
    log.reset()
    const staleBefore = pair.cache.stats().stale
    const expired = await read(pair.cached)
    expect(log.reads).toEqual([call])
    expect(pair.cache.stats().stale).toBe(staleBefore + 1)

    const truth = await read(pair.plain)
    expect(first).toStrictEqual(truth)
    expect(hit).toStrictEqual(truth)
    expect(expired).toStrictEqual(truth)
    await pair.cache.settled()
  }

  const authorsFind = (p: Payload) => db(p).find!({ collection: 'authors', sort: 'name' })

  it('ttl: 10 is a hit at +9 s and a miss at +11 s (logical expiry under KV’s 60 s minimum)', async () => {
    await lifetime(authorsFind, 'find:authors', 9_000, 11_000)
  })

  it('asks KV for an expirationTtl of at least 60 s, and the configured TTL when longer', async () => {
    recorder.puts.length = 0
    await lifetime(authorsFind, 'find:authors', 1_000, 11_000)
    const entryPuts = recorder.puts.filter((put) => put.key.startsWith(`${prefix}:c:authors:find:`))
    expect(entryPuts.length).toBeGreaterThanOrEqual(1)
    for (const put of entryPuts) {
      expect(put.options?.expirationTtl).toBeGreaterThanOrEqual(60)
      expect(put.options?.expiration).toBeUndefined()
    }

    recorder.puts.length = 0
    await lifetime((p) => db(p).findGlobal!({ slug: 'banner' }), 'findGlobal:banner', 89_000, 91_000)
    const globalPuts = recorder.puts.filter((put) => put.key.startsWith(`${prefix}:g:banner:findGlobal:`))
    expect(globalPuts.length).toBeGreaterThanOrEqual(1)
    for (const put of globalPuts) expect(put.options?.expirationTtl).toBe(90)
  })

  it('a per-collection, per-operation ttl (posts.findOne: 5 s) applies to that operation only', async () => {
    const findOne = (p: Payload) => db(p).findOne!({ collection: 'posts', where: { id: { equals: ids.post } } })
    await lifetime(findOne, 'findOne:posts', 4_000, 6_000)
    // posts.find keeps the global 10 s: alive at +6 s
    await lifetime((p) => db(p).find!({ collection: 'posts', sort: 'title', locale: 'en' }), 'find:posts', 9_000, 11_000)
  })

  it('a per-collection ttl (categories: 30 s) and a per-operation ttl (findDistinct: 40 s)', async () => {
    await lifetime((p) => db(p).find!({ collection: 'categories' }), 'find:categories', 29_000, 31_000)
    await lifetime(
      (p) => db(p).findDistinct!({ collection: 'authors', field: 'name', sort: 'name', limit: 10, page: 1 }),
      'findDistinct:authors',
      39_000,
      41_000,
    )
  })

  it('collections: { notes: false } sends every notes read to the database and stores nothing', async () => {
    const before = pair.cache.stats()
    log.reset()
    for (let i = 0; i < 3; i++) {
      await db(pair.cached).find!({ collection: 'notes' })
      await pair.cache.settled()
    }
    await pair.cached.find({ collection: 'notes' })
    await pair.cache.settled()
    expect(log.reads).toEqual(['find:notes', 'find:notes', 'find:notes', 'find:notes'])
    expect(delta(before, pair.cache.stats())).toEqual({ bypasses: 4 })
    expect(await listAll(env.kv(), `${prefix}:c:notes:`)).toEqual([])
    expect(await db(pair.cached).find!({ collection: 'notes' })).toStrictEqual(await db(pair.plain).find!({ collection: 'notes' }))
  })

  it('operations: { count: false } sends counts to the database while finds of the same collection stay cached', async () => {
    await pair.cache.invalidateAll()
    log.reset()
    await db(pair.cached).count!({ collection: 'authors' })
    await db(pair.cached).find!({ collection: 'authors', sort: 'name' })
    await pair.cache.settled()
    const count = await db(pair.cached).count!({ collection: 'authors' })
    await db(pair.cached).find!({ collection: 'authors', sort: 'name' })
    expect(log.reads).toEqual(['count:authors', 'find:authors', 'count:authors'])
    expect(count).toStrictEqual(await db(pair.plain).count!({ collection: 'authors' }))
    expect(await listAll(env.kv(), `${prefix}:c:authors:count:`)).toEqual([])
  })

  it('a collection can turn an operation back on (categories.operations.count: true beats operations.count: false)', async () => {
    await lifetime((p) => db(p).count!({ collection: 'categories' }), 'count:categories', 29_000, 31_000)
  })

  it('collections.categories.operations.findOne: false turns off that operation only', async () => {
    const findOne = (p: Payload) => db(p).findOne!({ collection: 'categories', where: { title: { equals: 'News' } } })
    await pair.cache.invalidateAll()
    log.reset()
    const first = await findOne(pair.cached)
    await pair.cache.settled()
    const second = await findOne(pair.cached)
    expect(log.reads).toEqual(['findOne:categories', 'findOne:categories'])
    expect(second).toStrictEqual(first)
    expect(first).toStrictEqual(await findOne(pair.plain))
    expect(await listAll(env.kv(), `${prefix}:c:categories:findOne:`)).toEqual([])
  })

  it('req.context.kvCache.ttl and kvCache.run({ ttl }) set the TTL of the entries they fill', async () => {
    await lifetime(
      (p) => db(p).find!({ collection: 'authors', where: { name: { equals: 'Ada' } }, req: { context: { kvCache: { ttl: 2 } } } }),
      'find:authors',
      1_000,
      3_000,
    )
    await lifetime(
      (p) => pair.cache.run({ ttl: 3 }, () => db(p).find!({ collection: 'authors', where: { name: { equals: 'Grace' } } })),
      'find:authors',
      2_000,
      4_000,
    )
  })
})

describe('default exclusions', () => {
  const prefix = 'exclusions'
  const fixture = useNotesPair(env, prefix)
  let pair: Pair
  let log: CallLog

  beforeAll(() => {
    pair = fixture.pair
    log = fixture.log
  })

  it.each([
    ['users (an auth collection)', 'users'],
    ['payload-locked-documents', 'payload-locked-documents'],
    ['payload-jobs', 'payload-jobs'],
    ['payload-migrations', 'payload-migrations'],
  ])('%s: every read reaches the database, nothing is stored', async (_, collection) => {
    log.reset()
    const before = pair.cache.stats()
    const results = []
    for (let i = 0; i < 3; i++) {
      results.push(await db(pair.cached).find!({ collection, limit: 10 }))
      await pair.cache.settled()
    }
    await db(pair.cached).count!({ collection })
    await pair.cache.settled()
    expect(log.reads).toEqual([`find:${collection}`, `find:${collection}`, `find:${collection}`, `count:${collection}`])
    expect(delta(before, pair.cache.stats())).toEqual({ bypasses: 4 })
    expect(await listAll(env.kv(), `${prefix}:c:${collection}:`)).toEqual([])
    for (const result of results) expect(result).toStrictEqual(await db(pair.plain).find!({ collection, limit: 10 }))
  })

  it('notes, which are not excluded, are cached (the exclusion checks above could fail)', async () => {
    await pair.cache.invalidateAll()
    log.reset()
    await db(pair.cached).find!({ collection: 'notes', limit: 10 })
    await pair.cache.settled()
    await db(pair.cached).find!({ collection: 'notes', limit: 10 })
    expect(log.reads).toEqual(['find:notes'])
  })

  it('users through the Local API reach the database each time', async () => {
    log.reset()
    const first = await pair.cached.find({ collection: 'users' })
    await pair.cache.settled()
    const second = await pair.cached.find({ collection: 'users' })
    expect(log.reads.filter((call) => call === 'find:users')).toHaveLength(2)
    expect(first.docs.map((user) => user.email)).toEqual(['ada@example.com'])
    expect(second).toStrictEqual(first)
  })
})

describe('opting an excluded collection in', () => {
  let pair: Pair
  let log: CallLog

  beforeAll(async () => {
    pair = await env.newPair({ prefix: 'opt-in', collections: { users: true } })
    await pair.cached.create({ collection: 'users', data: { email: 'key@example.com', password: 'secret-2' } })
    log = spyOnDatabase(pair.cached)
  })

  afterEach(async () => {
    await pair.cache.settled()
  })

  it('collections: { users: true } opts the auth collection in; other exclusions stay', async () => {
    await pair.cache.invalidateAll()
    log.reset()
    const first = await pair.cached.find({ collection: 'users' })
    await pair.cache.settled()
    const second = await pair.cached.find({ collection: 'users' })
    expect(log.reads.filter((call) => call === 'find:users')).toHaveLength(1)
    expect(second).toStrictEqual(first)
    expect(second).toStrictEqual(await pair.plain.find({ collection: 'users' }))
    expect(first.docs.map((user) => user.email)).toEqual(['key@example.com'])

    log.reset()
    await db(pair.cached).find!({ collection: 'payload-jobs' })
    await pair.cache.settled()
    await db(pair.cached).find!({ collection: 'payload-jobs' })
    expect(log.reads).toEqual(['find:payload-jobs', 'find:payload-jobs'])
  })

  it('opting users in still invalidates on writes: a changed name is seen at once', async () => {
    const [user] = (await pair.cached.find({ collection: 'users' })).docs
    await pair.cache.settled()
    await pair.cached.update({ collection: 'users', id: user!.id, data: { name: 'Renamed' } })
    const after = await pair.cached.find({ collection: 'users' })
    expect(after.docs[0]!.name).toBe('Renamed')
    expect(after).toStrictEqual(await pair.plain.find({ collection: 'users' }))
  })
})
