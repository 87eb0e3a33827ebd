import { afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals'
import type { Payload } from 'payload'
import type { CacheStats, KeyInput, KVNamespaceLike } from '../src/index.js'
import { unwrapAdapter } from '../src/index.js'
import { argumentsDigest, byteLength, entryKey } from '../src/keys.js'
import { schemaFingerprint } from '../src/fingerprint.js'

/** What the engine digests besides the arguments: the adapter name and the schema fingerprint. */
const keyNamespace = (p: { cached: { config: unknown } }) => `sqlite:${schemaFingerprint(p.cached.config)}`
import type { Pair } from './support/app.js'
import { useTestEnv } from './support/env.js'
import type { CallLog } from './support/spy.js'
import { spyOnDatabase } from './support/spy.js'
import type { Fault } from './support/faults.js'
import { faultyKV } from './support/faults.js'

const env = useTestEnv('sqlite')

type AdapterCall = (args: Record<string, unknown>) => Promise<unknown>
/** The adapter methods, called the way Payload calls them. */
const db = (payload: Payload): Record<string, AdapterCall> => payload.db as unknown as Record<string, AdapterCall>

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

async function listAll(kv: KVNamespaceLike, prefix?: string): Promise<string[]> {
  const names: string[] = []
  let cursor: string | undefined
  for (;;) {
    const page = await kv.list({ prefix: prefix ?? null, cursor: cursor ?? null })
    names.push(...page.keys.map((key) => key.name))
    if (page.list_complete || !page.cursor) return names
    cursor = page.cursor
  }
}

function delta(before: CacheStats, after: CacheStats): Partial<CacheStats> {
  const out: Partial<CacheStats> = {}
  for (const name of Object.keys(after) as Array<keyof CacheStats>) {
    if (after[name] !== before[name]) out[name] = after[name] - before[name]
  }
  return out
}

describe('TTL and per-collection / per-operation policy (controlled clock)', () => {
  const start = Date.UTC(2030, 0, 1)
  let now = start
  let pair: Pair
  let log: CallLog
  let recorder: ReturnType<typeof recordingKV>
  const prefix = 'behave-ttl'
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

describe('the default pair: exclusions, per-request control, stats, prefix, malformed entries, the proxy', () => {
  let pair: Pair
  let log: CallLog
  const prefix = 'behave-main'
  const notes: Array<{ id: number | string; text: string }> = []

  beforeAll(async () => {
    pair = await env.newPair({ prefix })
    for (const text of ['alpha', 'beta', 'gamma']) {
      const note = await pair.cached.create({ collection: 'notes', data: { text } })
      notes.push({ id: note.id, text })
    }
    await pair.cached.create({ collection: 'users', data: { email: 'ada@example.com', password: 'secret-1', name: 'Ada' } })
    log = spyOnDatabase(pair.cached)
  })

  afterEach(async () => {
    await pair.cache.settled()
  })

  describe('default exclusions', () => {
    it.each([
      ['users (an auth collection)', 'users'],
      ['payload-preferences', 'payload-preferences'],
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

  describe('per-request control', () => {
    it('req.context.kvCache.bypass through the Local API context reaches the database every time and fills nothing', async () => {
      await pair.cache.invalidateAll()
      log.reset()
      const before = pair.cache.stats()
      const bypassed = () => pair.cached.find({ collection: 'notes', sort: 'text', context: { kvCache: { bypass: true } } })
      const first = await bypassed()
      await pair.cache.settled()
      const second = await bypassed()
      await pair.cache.settled()
      expect(log.reads).toEqual(['find:notes', 'find:notes'])
      expect(delta(before, pair.cache.stats())).toEqual({ bypasses: 2 })
      // nothing was filled: the same read without bypass is a miss, then a hit
      log.reset()
      const plainRead = () => pair.cached.find({ collection: 'notes', sort: 'text' })
      await plainRead()
      await pair.cache.settled()
      await plainRead()
      expect(log.reads).toEqual(['find:notes'])
      const truth = await pair.plain.find({ collection: 'notes', sort: 'text' })
      expect(first).toStrictEqual(truth)
      expect(second).toStrictEqual(truth)
    })

    it('refresh: true skips the lookup but refills the entry', async () => {
      const note = notes[0]!
      const read = (p: Payload, context?: Record<string, unknown>) =>
        p.find({ collection: 'notes', where: { id: { equals: note.id } }, context })
      await pair.cache.invalidateAll()
      await read(pair.cached)
      await pair.cache.settled()
      // A change the cache cannot know of (made by a Payload without the wrapper).
      await pair.plain.update({ collection: 'notes', id: note.id, data: { text: 'alpha-changed' } })
      log.reset()
      const cached = await read(pair.cached)
      expect(log.reads).toEqual([])
      expect(cached.docs[0]!.text).toBe(note.text)

      const refreshed = await read(pair.cached, { kvCache: { refresh: true } })
      expect(log.reads).toEqual(['find:notes'])
      expect(refreshed.docs[0]!.text).toBe('alpha-changed')
      await pair.cache.settled()

      log.reset()
      const after = await read(pair.cached)
      expect(log.reads).toEqual([])
      expect(after).toStrictEqual(await read(pair.plain))
      expect(after.docs[0]!.text).toBe('alpha-changed')
      note.text = 'alpha-changed'
    })

    it('kvCache.run({ bypass: true }) reaches findByID, whose adapter call carries no context', async () => {
      const id = notes[1]!.id
      const read = () => pair.cached.findByID({ collection: 'notes', id })
      await pair.cache.invalidateAll()
      log.reset()
      await read()
      await pair.cache.settled()
      await read()
      expect(log.reads).toEqual(['findOne:notes'])

      log.reset()
      const before = pair.cache.stats()
      const inside = await pair.cache.run({ bypass: true }, () => read())
      const again = await pair.cache.run({ bypass: true }, async () => {
        await Promise.resolve()
        return read()
      })
      expect(log.reads).toEqual(['findOne:notes', 'findOne:notes'])
      expect(delta(before, pair.cache.stats())).toEqual({ bypasses: 2 })
      // outside run() the entry is still served
      log.reset()
      await read()
      expect(log.reads).toEqual([])
      const truth = await pair.plain.findByID({ collection: 'notes', id })
      expect(inside).toStrictEqual(truth)
      expect(again).toStrictEqual(truth)
    })

    it('kvCache.run({ refresh: true }) refills findByID', async () => {
      const note = notes[2]!
      const read = (p: Payload) => p.findByID({ collection: 'notes', id: note.id })
      await pair.cache.invalidateAll()
      await read(pair.cached)
      await pair.cache.settled()
      await pair.plain.update({ collection: 'notes', id: note.id, data: { text: 'gamma-changed' } })
      log.reset()
      expect((await read(pair.cached)).text).toBe(note.text)
      expect((await pair.cache.run({ refresh: true }, () => read(pair.cached))).text).toBe('gamma-changed')
      await pair.cache.settled()
      expect((await read(pair.cached)).text).toBe('gamma-changed')
      expect(log.reads).toEqual(['findOne:notes'])
      note.text = 'gamma-changed'
    })
  })

  describe('stats', () => {
    it('hits, misses, fills, bypasses, stale and invalidations move as reads and writes happen', async () => {
      const read = () => db(pair.cached).count!({ collection: 'notes', where: { text: { like: 'a' } } })
      await pair.cache.invalidateAll()
      let before = pair.cache.stats()
      await read()
      expect(delta(before, pair.cache.stats())).toEqual({ misses: 1 })
      await pair.cache.settled()
      expect(delta(before, pair.cache.stats())).toEqual({ misses: 1, fills: 1 })

      before = pair.cache.stats()
      await read()
      await read()
      expect(delta(before, pair.cache.stats())).toEqual({ hits: 2 })

      before = pair.cache.stats()
      await db(pair.cached).count!({ collection: 'notes', where: { text: { like: 'a' } }, req: { context: { kvCache: { bypass: true } } } })
      expect(delta(before, pair.cache.stats())).toEqual({ bypasses: 1 })

      before = pair.cache.stats()
      await pair.cache.invalidate({ collections: ['notes'] })
      // The collection's stamp and its bulk stamp (a change made outside Payload names no documents).
      expect(delta(before, pair.cache.stats())).toEqual({ invalidations: 1, stampWrites: 2 })

      before = pair.cache.stats()
      await read()
      await pair.cache.settled()
      expect(delta(before, pair.cache.stats())).toEqual({ stale: 1, fills: 1 })

      before = pair.cache.stats()
      const created = await pair.cached.create({ collection: 'notes', data: { text: 'delta' } })
      let afterWrite = pair.cache.stats()
      expect(afterWrite.invalidations - before.invalidations).toBeGreaterThanOrEqual(1)
      // Inside a second of the last stamp write, the bump goes out as a trailing write.
      await pair.cache.settled()
      afterWrite = pair.cache.stats()
      expect(afterWrite.stampWrites - before.stampWrites).toBeGreaterThanOrEqual(1)
      expect(await read()).toStrictEqual(await db(pair.plain).count!({ collection: 'notes', where: { text: { like: 'a' } } }))
      await pair.cached.delete({ collection: 'notes', id: created.id })
    })
  })

  describe('prefix and keys', () => {
    it('every key the pair writes starts with its prefix', async () => {
      await pair.cache.settled()
      const existing = new Set(await listAll(env.kv()))
      const token = `prefix-${Date.now()}`
      await pair.cache.invalidateAll()
      // reads whose keys cannot exist yet, and a write to a scope never written before
      await db(pair.cached).find!({ collection: 'notes', where: { text: { not_equals: token } } })
      await pair.cached.findGlobal({ slug: 'banner', locale: 'de' })
      await pair.cached.count({ collection: 'authors', where: { name: { not_equals: token } } })
      const created = await pair.cached.create({ collection: 'categories', data: { title: token } })
      await pair.cached.findByID({ collection: 'categories', id: created.id })
      await pair.cache.settled()
      const all = await listAll(env.kv())
      const added = all.filter((name) => !existing.has(name))
      expect(added.length).toBeGreaterThanOrEqual(5)
      for (const name of added) expect(name.startsWith(`${prefix}:`)).toBe(true)
      const mine = await listAll(env.kv(), `${prefix}:`)
      expect(mine).toEqual(all.filter((name) => name.startsWith(`${prefix}:`)))
      for (const name of mine) {
        expect(name).toMatch(
          new RegExp(`^${prefix}:((c|g):[a-z-]+:[A-Za-z]+:[A-Za-z0-9_-]+|stamp:([0-9]+:)?(\\*|(c|g):[a-z-]+(#\\*|#=[0-9]+)?))$`),
        )
      }
      expect(mine).toContain(`${prefix}:stamp:*`)
      expect(added).toContain(`${prefix}:stamp:c:categories`)
      expect(added.filter((name) => name.startsWith(`${prefix}:c:notes:find:`))).toHaveLength(1)
      expect(added.filter((name) => name.startsWith(`${prefix}:g:banner:findGlobal:`))).toHaveLength(1)
      expect(added.filter((name) => name.startsWith(`${prefix}:c:authors:count:`))).toHaveLength(1)
      expect(added.filter((name) => name.startsWith(`${prefix}:c:categories:findOne:`))).toHaveLength(1)
    })

    it('a huge where is cached under a key shorter than 512 bytes', async () => {
      const where = { text: { in: Array.from({ length: 600 }, (_, i) => `${'long value '.repeat(4)}${i}`).concat(['beta']) } }
      const read = (p: Payload) => db(p).find!({ collection: 'notes', where })
      await pair.cache.invalidateAll()
      log.reset()
      await read(pair.cached)
      await pair.cache.settled()
      const hit = await read(pair.cached)
      expect(log.reads).toEqual(['find:notes'])
      expect(hit).toStrictEqual(await read(pair.plain))
      const expected = entryKey(prefix, 'c:notes', 'find', argumentsDigest(keyNamespace(pair), 'find', { collection: 'notes', where }))
      expect(byteLength(expected)).toBeLessThan(512)
      expect(await env.kv().get(expected, 'text')).not.toBeNull()
    })
  })

  describe('results that are not plain documents', () => {
    it('a findOne that finds nothing is cached as null and served as null', async () => {
      const read = (p: Payload) => db(p).findOne!({ collection: 'notes', where: { text: { equals: 'no such note' } } })
      await pair.cache.invalidateAll()
      log.reset()
      const first = await read(pair.cached)
      await pair.cache.settled()
      const second = await read(pair.cached)
      expect(first).toBeNull()
      expect(second).toBeNull()
      expect(log.reads).toEqual(['findOne:notes'])
      // and a write that makes it exist is seen at once
      const created = await pair.cached.create({ collection: 'notes', data: { text: 'no such note' } })
      const third = (await read(pair.cached)) as { id: unknown } | null
      expect(third?.id).toBe(created.id)
      expect(third).toStrictEqual(await read(pair.plain))
      await pair.cached.delete({ collection: 'notes', id: created.id })
      expect(await read(pair.cached)).toBeNull()
    })
  })

  describe('malformed entries', () => {
    it.each([
      ['text that is not JSON', 'garbage'],
      ['an envelope of another format version', JSON.stringify({ v: 999, s: '', f: 0, e: 9e15, d: {} })],
      ['an envelope with an unknown tag in its data', null],
    ])('%s is a miss, answered from the database, and refilled', async (_, garbage) => {
      const read = (p: Payload) => db(p).find!({ collection: 'notes', sort: '-text', limit: 2 })
      await pair.cache.invalidateAll()
      await read(pair.cached)
      await pair.cache.settled()
      const keys = await listAll(env.kv(), `${prefix}:c:notes:find:`)
      const key = entryKey(
        prefix,
        'c:notes',
        'find',
        argumentsDigest(keyNamespace(pair), 'find', { collection: 'notes', sort: '-text', limit: 2 }),
      )
      expect(keys).toContain(key)
      let value = garbage
      if (value === null) {
        // A valid envelope, under the current stamps, whose data cannot be decoded.
        const real = JSON.parse((await env.kv().get(key, 'text'))!) as Record<string, unknown>
        value = JSON.stringify({ ...real, d: { docs: '\u0001?' } })
      }
      await env.kv().put(key, value)

      log.reset()
      const before = pair.cache.stats()
      const result = await read(pair.cached)
      expect(log.reads).toEqual(['find:notes'])
      expect(result).toStrictEqual(await read(pair.plain))
      expect(delta(before, pair.cache.stats())).toMatchObject({ malformed: 1 })
      expect(pair.cache.stats().hits).toBe(before.hits)
      await pair.cache.settled()
      // refilled: the next read is a hit again
      log.reset()
      expect(await read(pair.cached)).toStrictEqual(result)
      expect(log.reads).toEqual([])
      expect(await env.kv().get(key, 'text')).not.toBe(value)
    })
  })

  describe('the proxy', () => {
    it('keeps the inner adapter’s name', () => {
      expect(pair.cached.db.name).toBe('sqlite')
      expect(pair.cached.db.name).toBe(unwrapAdapter(pair.cached.db).name)
      expect(pair.cached.db.name).toBe(pair.plain.db.name)
      expect(unwrapAdapter(pair.cached.db)).not.toBe(pair.cached.db)
      expect(unwrapAdapter(pair.plain.db)).toBe(pair.plain.db)
      expect((pair.cached.db as unknown as { kvCache: unknown }).kvCache).toBe(pair.cache)
    })

    it('set, in and delete reach the inner adapter, and the inner adapter’s changes show through', () => {
      const proxy = pair.cached.db as unknown as Record<string, unknown>
      const inner = unwrapAdapter(pair.cached.db) as unknown as Record<string, unknown>
      expect('pkcTestFlag' in proxy).toBe(false)
      proxy.pkcTestFlag = 123
      expect(inner.pkcTestFlag).toBe(123)
      expect('pkcTestFlag' in proxy).toBe(true)
      expect(Object.keys(proxy)).toContain('pkcTestFlag')
      expect(delete proxy.pkcTestFlag).toBe(true)
      expect('pkcTestFlag' in inner).toBe(false)
      expect('pkcTestFlag' in proxy).toBe(false)
      expect(proxy.pkcTestFlag).toBeUndefined()

      inner.pkcLive = 'set on the inner adapter'
      expect(proxy.pkcLive).toBe('set on the inner adapter')
      delete inner.pkcLive

      Object.defineProperty(proxy, 'pkcDefined', { value: 7, configurable: true, writable: true, enumerable: true })
      expect(inner.pkcDefined).toBe(7)
      delete proxy.pkcDefined

      // Payload and tests set these on payload.db
      const had = 'allowAdditionalKeys' in inner
      const previous = proxy.allowAdditionalKeys
      proxy.allowAdditionalKeys = true
      expect(inner.allowAdditionalKeys).toBe(true)
      if (had) proxy.allowAdditionalKeys = previous
      else delete proxy.allowAdditionalKeys
      expect(inner.allowAdditionalKeys).toBe(previous)
    })

    it('a function assigned through the proxy is handed back as it is', () => {
      const proxy = pair.cached.db as unknown as Record<string, unknown>
      const fn = function customHelper() {
        return 'custom'
      }
      proxy.pkcCustom = fn
      expect(proxy.pkcCustom).toBe(fn)
      expect((unwrapAdapter(pair.cached.db) as unknown as Record<string, unknown>).pkcCustom).toBe(fn)
      delete proxy.pkcCustom
    })

    it('hands out one wrapper per method', () => {
      const proxy = pair.cached.db as unknown as Record<string, unknown>
      expect(pair.cached.db.find).toBe(pair.cached.db.find)
      expect(pair.cached.db.findOne).toBe(pair.cached.db.findOne)
      expect(pair.cached.db.create).toBe(pair.cached.db.create)
      expect(pair.cached.db.find).not.toBe(pair.cached.db.findOne)
      expect(typeof proxy.find).toBe('function')
    })

    it('jest.spyOn(payload.db, "find") gives a mock that records calls, and the call is still cached', async () => {
      const args = { collection: 'notes', sort: 'text', limit: 5 }
      await pair.cache.invalidateAll()
      const spy = jest.spyOn(pair.cached.db, 'find')
      try {
        expect(jest.isMockFunction(pair.cached.db.find)).toBe(true)
        expect(pair.cached.db.find).toBe(spy)
        log.reset()
        const first = await db(pair.cached).find!(args)
        await pair.cache.settled()
        const second = await db(pair.cached).find!(args)
        expect(spy).toHaveBeenCalledTimes(2)
        expect(spy.mock.calls[0]![0]).toEqual(args)
        expect(log.reads).toEqual(['find:notes'])
        const truth = await db(pair.plain).find!(args)
        expect(first).toStrictEqual(truth)
        expect(second).toStrictEqual(truth)

        // through the Local API too
        log.reset()
        spy.mockClear()
        await pair.cached.find({ collection: 'notes', sort: 'text', limit: 5 })
        await pair.cache.settled()
        await pair.cached.find({ collection: 'notes', sort: 'text', limit: 5 })
        expect(spy).toHaveBeenCalledTimes(2)
        expect(log.reads).toEqual(['find:notes'])
      } finally {
        spy.mockRestore()
      }
      expect(jest.isMockFunction(pair.cached.db.find)).toBe(false)
      // restored: still cached
      log.reset()
      await db(pair.cached).find!(args)
      expect(log.reads).toEqual([])
    })

    it('a plugin that replaces a method by assignment, calling the one it kept, is still cached', async () => {
      const proxy = pair.cached.db as unknown as Record<string, unknown>
      const original = proxy.findOne as AdapterCall
      let calls = 0
      const replacement = function (this: unknown, args: Record<string, unknown>) {
        calls++
        return original.call(this, args)
      }
      proxy.findOne = replacement
      try {
        expect(proxy.findOne).toBe(replacement)
        const args = { collection: 'notes', where: { text: { equals: 'beta' } } }
        await pair.cache.invalidateAll()
        log.reset()
        const first = await db(pair.cached).findOne!(args)
        await pair.cache.settled()
        const second = await db(pair.cached).findOne!(args)
        expect(calls).toBe(2)
        expect(log.reads).toEqual(['findOne:notes'])
        expect(second).toStrictEqual(await db(pair.plain).findOne!(args))
        expect(first).toStrictEqual(second)
        // Payload's own findByID goes through the replacement too
        await pair.cached.findByID({ collection: 'notes', id: notes[1]!.id })
        expect(calls).toBe(3)
      } finally {
        proxy.findOne = original
      }
      expect(proxy.findOne).toBe(original)
      log.reset()
      await db(pair.cached).findOne!({ collection: 'notes', where: { text: { equals: 'beta' } } })
      expect(log.reads).toEqual([])
    })

    it('a spy whose implementation is replaced answers instead of the cache and the database', async () => {
      const spy = jest.spyOn(pair.cached.db, 'count').mockResolvedValue({ totalDocs: 4242 })
      try {
        log.reset()
        expect(await pair.cached.db.count({ collection: 'notes' })).toEqual({ totalDocs: 4242 })
        expect(log.reads).toEqual([])
      } finally {
        spy.mockRestore()
      }
      expect(await pair.cached.db.count({ collection: 'notes' })).toStrictEqual(await pair.plain.db.count({ collection: 'notes' }))
    })
  })
})

describe('a custom key function', () => {
  let pair: Pair
  let log: CallLog
  const prefix = 'behave-key'
  const inputs: KeyInput[] = []

  beforeAll(async () => {
    pair = await env.newPair({
      prefix,
      collections: { users: true },
      key: (input) => {
        inputs.push(input)
        if (input.slug === 'notes' && input.operation === 'count') return 'all-note-counts'
        if (input.slug === 'categories') throw new Error('key function failure')
        if (input.slug === 'authors') return 42 as unknown as string
        if (input.slug === 'posts') return ''
        if (input.slug === 'banner') return `${'long-key-'.repeat(80)}${input.operation}`
        return input.defaultDigest
      },
    })
    for (const text of ['a', 'b', 'c']) await pair.cached.create({ collection: 'notes', data: { text } })
    await pair.cached.create({ collection: 'categories', data: { title: 'News' } })
    await pair.cached.create({ collection: 'authors', data: { name: 'Ada' } })
    await pair.cached.create({ collection: 'posts', data: { title: 'Hello' } })
    await pair.cached.create({ collection: 'users', data: { email: 'key@example.com', password: 'secret-2' } })
    log = spyOnDatabase(pair.cached)
  })

  afterEach(async () => {
    await pair.cache.settled()
  })

  it('is used: two calls it maps to one string share one entry', async () => {
    await pair.cache.invalidateAll()
    log.reset()
    inputs.length = 0
    const onlyA = await db(pair.cached).count!({ collection: 'notes', where: { text: { equals: 'a' } } })
    await pair.cache.settled()
    const all = await db(pair.cached).count!({ collection: 'notes' })
    expect(log.reads).toEqual(['count:notes'])
    expect(onlyA).toEqual({ totalDocs: 1 })
    // the second call was answered from the first one's entry, which is what the key asked for
    expect(all).toEqual({ totalDocs: 1 })
    expect(await db(pair.plain).count!({ collection: 'notes' })).toEqual({ totalDocs: 3 })
    expect(await env.kv().get(`${prefix}:c:notes:count:all-note-counts`, 'text')).not.toBeNull()
    // what the function was given
    expect(inputs[0]).toEqual({
      operation: 'count',
      kind: 'collection',
      slug: 'notes',
      args: { collection: 'notes', where: { text: { equals: 'a' } } },
      defaultDigest: argumentsDigest(keyNamespace(pair), 'count', { collection: 'notes', where: { text: { equals: 'a' } } }),
    })
  })

  it('keeps the scope in the key, so a write still invalidates a custom-keyed entry', async () => {
    await pair.cache.invalidateAll()
    await db(pair.cached).count!({ collection: 'notes' })
    await pair.cache.settled()
    const created = await pair.cached.create({ collection: 'notes', data: { text: 'd' } })
    log.reset()
    const after = await db(pair.cached).count!({ collection: 'notes' })
    expect(log.reads).toEqual(['count:notes'])
    expect(after).toStrictEqual(await db(pair.plain).count!({ collection: 'notes' }))
    expect(after).toEqual({ totalDocs: 4 })
    await pair.cached.delete({ collection: 'notes', id: created.id })
  })

  it('gets no req, and kind "global" for globals', async () => {
    inputs.length = 0
    await pair.cached.find({ collection: 'notes', sort: 'text' })
    await pair.cached.findGlobal({ slug: 'banner' })
    const notesInput = inputs.find((input) => input.slug === 'notes')
    expect(notesInput).toBeDefined()
    expect('req' in notesInput!.args).toBe(false)
    expect(inputs.find((input) => input.slug === 'banner')).toMatchObject({ kind: 'global', operation: 'findGlobal' })
  })

  it.each([
    [
      'throws',
      'categories',
      (p: Payload) => db(p).find!({ collection: 'categories', sort: 'title' }),
      'find',
      { collection: 'categories', sort: 'title' },
    ],
    [
      'returns a number',
      'authors',
      (p: Payload) => db(p).find!({ collection: 'authors', sort: 'name' }),
      'find',
      { collection: 'authors', sort: 'name' },
    ],
    ['returns an empty string', 'posts', (p: Payload) => db(p).count!({ collection: 'posts' }), 'count', { collection: 'posts' }],
  ] as const)(
    'that %s falls back to the default key; the read succeeds and equals the database',
    async (_, slug, read, operation, args) => {
      await pair.cache.invalidateAll()
      log.reset()
      const first = await read(pair.cached)
      await pair.cache.settled()
      const second = await read(pair.cached)
      expect(log.reads).toEqual([`${operation}:${slug}`])
      const truth = await read(pair.plain)
      expect(first).toStrictEqual(truth)
      expect(second).toStrictEqual(truth)
      const defaultKey = entryKey(prefix, `c:${slug}`, operation, argumentsDigest(keyNamespace(pair), operation, args))
      expect(await env.kv().get(defaultKey, 'text')).not.toBeNull()
      const listed = await listAll(env.kv(), `${prefix}:c:${slug}:${operation}:`)
      expect(listed).toContain(defaultKey)
      // nothing stored under what the function returned
      expect(listed).not.toContain(`${prefix}:c:${slug}:${operation}:42`)
      expect(listed).not.toContain(`${prefix}:c:${slug}:${operation}:`)
      for (const name of listed) expect(name).toMatch(/:[A-Za-z0-9_-]{43}$/)
    },
  )

  it('a key longer than KV allows is hashed: still shared, still under 512 bytes', async () => {
    await pair.cache.invalidateAll()
    log.reset()
    const en = await db(pair.cached).findGlobal!({ slug: 'banner', locale: 'en' })
    await pair.cache.settled()
    // a different locale maps to the same long key: served from the first entry
    const de = await db(pair.cached).findGlobal!({ slug: 'banner', locale: 'de' })
    expect(log.reads).toEqual(['findGlobal:banner'])
    expect(de).toStrictEqual(en)
    const keys = await listAll(env.kv(), `${prefix}:g:banner:findGlobal:`)
    expect(keys.length).toBeGreaterThanOrEqual(1)
    for (const name of keys) expect(byteLength(name)).toBeLessThan(512)
  })

  it('the same failures through the Local API still return what the database holds', async () => {
    await pair.cache.invalidateAll()
    for (const collection of ['categories', 'authors', 'posts'] as const) {
      const cached = await pair.cached.find({ collection, depth: 0 })
      await pair.cache.settled()
      const again = await pair.cached.find({ collection, depth: 0 })
      const truth = await pair.plain.find({ collection, depth: 0 })
      expect(cached).toStrictEqual(truth)
      expect(again).toStrictEqual(truth)
    }
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
    await db(pair.cached).find!({ collection: 'payload-preferences' })
    await pair.cache.settled()
    await db(pair.cached).find!({ collection: 'payload-preferences' })
    expect(log.reads).toEqual(['find:payload-preferences', 'find:payload-preferences'])
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

describe('waitUntil', () => {
  let pair: Pair
  let log: CallLog
  const handed: Promise<unknown>[] = []
  const mode = { throws: false }

  beforeAll(async () => {
    pair = await env.newPair({
      prefix: 'behave-wait',
      waitUntil: (promise) => {
        if (mode.throws) throw new Error('waitUntil called outside a request')
        handed.push(promise)
      },
    })
    await pair.cached.create({ collection: 'notes', data: { text: 'waited' } })
    await Promise.all(handed)
    log = spyOnDatabase(pair.cached)
  })

  it('receives each fill; once it settles, the next read is a hit', async () => {
    await pair.cache.invalidateAll()
    await Promise.all(handed)
    handed.length = 0
    log.reset()
    const before = pair.cache.stats()
    const first = await pair.cached.find({ collection: 'notes' })
    expect(handed).toHaveLength(1)
    expect(handed[0]).toBeInstanceOf(Promise)
    await Promise.all(handed)
    expect(delta(before, pair.cache.stats())).toEqual({ misses: 1, fills: 1 })
    const second = await pair.cached.find({ collection: 'notes' })
    expect(log.reads).toEqual(['find:notes'])
    expect(handed).toHaveLength(1)
    expect(second).toStrictEqual(first)
    expect(second).toStrictEqual(await pair.plain.find({ collection: 'notes' }))

    // a second miss hands over a second promise
    await pair.cached.count({ collection: 'notes' })
    expect(handed).toHaveLength(2)
    await Promise.all(handed)
  })

  it('a burst’s trailing stamp write is handed to waitUntil, so it outlives the response', async () => {
    await Promise.all(handed)
    handed.length = 0
    const [note] = (await pair.plain.find({ collection: 'notes', limit: 1 })).docs
    const before = pair.cache.stats()
    // Two writes to one collection within KV's one-write-per-second: one stamp write now, one
    // trailing write a second later.
    await pair.cached.update({ collection: 'notes', id: note!.id, data: { text: 'burst 1' } })
    await pair.cached.update({ collection: 'notes', id: note!.id, data: { text: 'burst 2' } })
    expect(handed.length).toBeGreaterThanOrEqual(1)
    // Only what waitUntil holds is awaited: nothing was left for settled() to track.
    await Promise.all(handed)
    expect(pair.cache.footprint().background).toBe(0)
    // The collection's stamp and the document's, each once now and once trailing.
    expect(delta(before, pair.cache.stats()).stampWrites).toBe(4)
    expect(await pair.cached.find({ collection: 'notes' })).toStrictEqual(await pair.plain.find({ collection: 'notes' }))
  })

  it('when waitUntil throws (outside a request), the fill is tracked instead and settled() waits for it', async () => {
    await pair.cache.invalidateAll()
    handed.length = 0
    mode.throws = true
    try {
      log.reset()
      await pair.cached.find({ collection: 'notes', sort: 'text' })
      await pair.cache.settled()
      const second = await pair.cached.find({ collection: 'notes', sort: 'text' })
      expect(log.reads).toEqual(['find:notes'])
      expect(handed).toHaveLength(0)
      expect(second).toStrictEqual(await pair.plain.find({ collection: 'notes', sort: 'text' }))
    } finally {
      mode.throws = false
    }
  })
})

describe('the failure contract: KV errors, timeouts and garbage never fail a Payload call', () => {
  let pair: Pair
  let log: CallLog
  const faults: { get: Fault; put: Fault } = { get: 'ok', put: 'ok' }
  const ids: Array<number | string> = []
  // Real time plus a skew the tests move: a stamp that failed to land is retried after 1 s.
  let skew = 0

  beforeAll(async () => {
    pair = await env.newPair({
      prefix: 'behave-fault',
      kvTimeoutMs: 250,
      clock: () => Date.now() + skew,
      wrapKV: (kv) => faultyKV(kv, (method) => (method === 'get' || method === 'put' ? faults[method] : 'ok')),
    })
    for (const text of ['one', 'two']) ids.push((await pair.cached.create({ collection: 'notes', data: { text } })).id)
    await pair.cached.updateGlobal({ slug: 'banner', data: { text: 'banner' } })
    log = spyOnDatabase(pair.cached)
  })

  afterEach(async () => {
    faults.get = 'ok'
    faults.put = 'ok'
    await recover()
  })

  /** With KV back: lets the isolate retry the stamps it could not write, and settles. */
  async function recover(): Promise<void> {
    await pair.cache.settled()
    skew += 2_000
    await readsEqualTheDatabase()
    await pair.cache.settled()
  }

  const reads: Array<[string, (p: Payload) => Promise<unknown>]> = [
    ['find', (p) => p.find({ collection: 'notes', sort: 'text' })],
    ['findByID', (p) => p.findByID({ collection: 'notes', id: ids[0]! })],
    ['count', (p) => p.count({ collection: 'notes' })],
    ['findGlobal', (p) => p.findGlobal({ slug: 'banner' })],
    ['adapter find', (p) => db(p).find!({ collection: 'notes', where: { text: { exists: true } } })],
  ]

  async function readsEqualTheDatabase(): Promise<void> {
    for (const [, read] of reads) {
      const cached = await read(pair.cached)
      expect(cached).toStrictEqual(await read(pair.plain))
    }
  }

  /** Warms every read while KV works, so a failing KV has entries it could have served. */
  async function warm(): Promise<void> {
    await pair.cache.settled()
    for (const [, read] of reads) await read(pair.cached)
    await pair.cache.settled()
  }

  it.each([
    ['throw', 'kvErrors'],
    ['hang', 'timeouts'],
  ] as const)('get and put that %s: reads and writes succeed, equal the database, and %s are counted', async (fault, counter) => {
    await warm()
    faults.get = fault
    faults.put = fault
    const before = pair.cache.stats()
    log.reset()
    await readsEqualTheDatabase()
    const afterReads = pair.cache.stats()
    expect(afterReads[counter] - before[counter]).toBeGreaterThanOrEqual(reads.length)
    expect(afterReads.hits).toBe(before.hits)
    expect(log.reads.length).toBeGreaterThanOrEqual(reads.length)

    // writes reach the database whatever KV does
    const created = await pair.cached.create({ collection: 'notes', data: { text: `made while KV ${fault}s` } })
    await pair.cached.update({ collection: 'notes', id: ids[1]!, data: { text: `two (${fault})` } })
    await pair.cached.updateGlobal({ slug: 'banner', data: { text: `banner (${fault})` } })
    expect((await pair.plain.findByID({ collection: 'notes', id: created.id })).text).toBe(`made while KV ${fault}s`)
    expect((await pair.plain.findByID({ collection: 'notes', id: ids[1]! })).text).toBe(`two (${fault})`)
    expect((await pair.plain.findGlobal({ slug: 'banner' })).text).toBe(`banner (${fault})`)
    await readsEqualTheDatabase()
    await pair.cached.delete({ collection: 'notes', id: created.id })
    expect((await pair.plain.find({ collection: 'notes', where: { id: { equals: created.id } } })).totalDocs).toBe(0)
    await readsEqualTheDatabase()
    expect(pair.cache.stats()[counter]).toBeGreaterThan(afterReads[counter])

    // once KV is back, reads still equal the database, and the cache serves them again
    faults.get = 'ok'
    faults.put = 'ok'
    await recover()
    await readsEqualTheDatabase()
    await pair.cache.settled()
    const hitsBefore = pair.cache.stats().hits
    log.reset()
    await readsEqualTheDatabase()
    expect(pair.cache.stats().hits - hitsBefore).toBeGreaterThanOrEqual(reads.length)
    expect(log.reads).toEqual([])
  })

  it('a put that fails loses only the fill: the read succeeds, kvErrors count, and the next read goes to the database again', async () => {
    const read = (p: Payload) => db(p).find!({ collection: 'notes', sort: '-text', limit: 1 })
    await pair.cache.invalidateAll()
    faults.put = 'throw'
    const before = pair.cache.stats()
    log.reset()
    const first = await read(pair.cached)
    await pair.cache.settled()
    const second = await read(pair.cached)
    await pair.cache.settled()
    expect(log.reads).toEqual(['find:notes', 'find:notes'])
    const change = delta(before, pair.cache.stats())
    expect(change.kvErrors).toBe(2)
    expect(change.fills).toBeUndefined()
    expect(change.hits).toBeUndefined()
    const truth = await read(pair.plain)
    expect(first).toStrictEqual(truth)
    expect(second).toStrictEqual(truth)
  })

  it('a get that hangs is abandoned after kvTimeoutMs, not after KV answers', async () => {
    faults.get = 'hang'
    const started = Date.now()
    const result = await pair.cached.count({ collection: 'notes' })
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(result).toStrictEqual(await pair.plain.count({ collection: 'notes' }))
  })
})
