import { afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import type { Payload } from 'payload'
import type { KeyInput } from '../src/index.js'
import { argumentsDigest, byteLength, entryKey } from '../src/keys.js'
import type { Pair } from './support/app.js'
import { useTestEnv } from './support/env.js'
import { db, emptyCache, keyNamespace, listAll, useNotesPair } from './support/inspect.js'
import type { CallLog } from './support/spy.js'
import { spyOnDatabase } from './support/spy.js'

/** Entry keys: the prefix, KV's 512-byte limit, and a custom `key` function (and its failures). */
const env = useTestEnv('sqlite')

describe('prefix and keys', () => {
  const prefix = 'keys'
  const fixture = useNotesPair(env, prefix)
  let pair: Pair
  let log: CallLog

  beforeAll(() => {
    pair = fixture.pair
    log = fixture.log
  })

  it('every key the pair writes starts with its prefix', async () => {
    await pair.cache.settled()
    const existing = new Set(await listAll(env.kv()))
    const token = `prefix-${Date.now()}`
    await emptyCache(pair)
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
        new RegExp(
          `^${prefix}:((c|g):[a-z-]+:[A-Za-z]+:[A-Za-z0-9_-]+|stamp:([0-9]+:)?(\\*|(c|g):[a-z-]+(#\\*|#=[0-9]+|#\\+|#\\.[A-Za-z0-9_]+)?))$`,
        ),
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
    await emptyCache(pair)
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

describe('a custom key function', () => {
  let pair: Pair
  let log: CallLog
  const prefix = 'custom-key'
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
    await emptyCache(pair)
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
    await emptyCache(pair)
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
      await emptyCache(pair)
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
    await emptyCache(pair)
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
    await emptyCache(pair)
    for (const collection of ['categories', 'authors', 'posts'] as const) {
      const cached = await pair.cached.find({ collection, depth: 0 })
      await pair.cache.settled()
      const again = await pair.cached.find({ collection, depth: 0 })
      const truth = await pair.plain.find({ collection, depth: 0 })
      expect(cached).toStrictEqual(truth)
      expect(again).toStrictEqual(truth)
    }
  })
})
