import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { sqliteAdapter } from '@payloadcms/db-sqlite'
import type { KVServer } from '@pkc/testkit'
import { closePayload, startKV } from '@pkc/testkit'
import type { DatabaseAdapterObj } from 'payload'
import type { KVCacheOptions, KVNamespaceLike } from '../src/index.js'
import { KVCacheConfigError, unwrapAdapter, withKVCache } from '../src/index.js'
import type { TestHooks } from '../src/internals.js'
import { withTestHooks } from '../src/internals.js'
import { startPayload } from './support/app.js'
import { spyOnDatabase } from './support/spy.js'

// Drizzle skips its dev push when the schema equals the last one pushed in this process.
process.env.PAYLOAD_FORCE_DRIZZLE_PUSH = 'true'

const dir = mkdtempSync(join(tmpdir(), 'pkc-options-'))
let files = 0
/** A real adapter value, as `db:` would get it; nothing connects until Payload initialises it. */
const adapter = (): DatabaseAdapterObj =>
  sqliteAdapter({ client: { url: `file:${join(dir, `db-${files++}.db`)}` }, transactionOptions: false })

let server: KVServer
let kv: KVNamespaceLike

beforeAll(async () => {
  server = await startKV()
  kv = server.kv
})

afterAll(async () => {
  await server?.dispose()
})

/** Calls `fn`, expects a KVCacheConfigError, returns it. */
function configError(fn: () => unknown): KVCacheConfigError {
  let thrown: unknown
  try {
    fn()
  } catch (error) {
    thrown = error
  }
  expect(thrown).toBeInstanceOf(KVCacheConfigError)
  return thrown as KVCacheConfigError
}

const bad = (options: unknown) => () => withKVCache(adapter(), options as KVCacheOptions)
const withKV = (rest: Record<string, unknown>) => bad({ kv, ...rest })

describe('withKVCache options, checked at call time', () => {
  // [what, options (a function, so `kv` is read after beforeAll), the option the message must name]
  const cases: Array<[string, () => unknown, string]> = [
    ['no options at all', () => undefined, 'kv'],
    ['null', () => null, 'kv'],
    ['an empty options object', () => ({}), 'kv'],
    ['kv: undefined', () => ({ kv: undefined }), 'kv'],
    ['kv: null', () => ({ kv: null }), 'kv'],
    ['a string instead of options', () => 'CACHE', 'kv'],
    ['kv: a string', () => ({ kv: 'CACHE' }), 'kv'],
    ['kv: a number', () => ({ kv: 1 }), 'kv'],
    ['kv: an object without get/put/delete/list', () => ({ kv: {} }), 'kv'],
    ['kv: an object with only get and put', () => ({ kv: { get: () => null, put: () => undefined } }), 'kv'],
    [
      'kv: an object whose list is not a function',
      () => ({ kv: { get: () => null, put: () => undefined, delete: () => undefined, list: 'x' } }),
      'kv',
    ],
    ['ttl: 0', () => ({ kv, ttl: 0 }), 'ttl'],
    ['ttl: -1', () => ({ kv, ttl: -1 }), 'ttl'],
    ['ttl: NaN', () => ({ kv, ttl: NaN }), 'ttl'],
    ['ttl: Infinity', () => ({ kv, ttl: Infinity }), 'ttl'],
    ["ttl: '60'", () => ({ kv, ttl: '60' }), 'ttl'],
    ['an unknown option', () => ({ kv, ttlSeconds: 60 }), 'ttlSeconds'],
    ['a misspelt option', () => ({ kv, colections: {} }), 'colections'],
    ['operations: an unknown operation', () => ({ kv, operations: { fetch: true } }), 'operations.fetch'],
    ['operations: a write operation', () => ({ kv, operations: { create: false } }), 'operations.create'],
    ['operations: an array', () => ({ kv, operations: ['find'] }), 'operations'],
    ['operations.find: a string', () => ({ kv, operations: { find: 'yes' } }), 'operations.find'],
    ['operations.find.ttl: 0', () => ({ kv, operations: { find: { ttl: 0 } } }), 'operations.find.ttl'],
    ["collections.x = 'yes'", () => ({ kv, collections: { x: 'yes' } }), 'collections.x'],
    ['collections.x = null', () => ({ kv, collections: { x: null } }), 'collections.x'],
    ['collections: true', () => ({ kv, collections: true }), 'collections'],
    ['collections.posts.ttl: -5', () => ({ kv, collections: { posts: { ttl: -5 } } }), 'collections.posts.ttl'],
    [
      'collections.posts.operations: an unknown operation',
      () => ({ kv, collections: { posts: { operations: { findMany: true } } } }),
      'collections.posts.operations.findMany',
    ],
    [
      'collections.posts.operations.find.ttl: NaN',
      () => ({ kv, collections: { posts: { operations: { find: { ttl: NaN } } } } }),
      'collections.posts.operations.find.ttl',
    ],
    ["globals.banner = 'no'", () => ({ kv, globals: { banner: 'no' } }), 'globals.banner'],
    ['key: a string', () => ({ kv, key: 'id' }), 'key'],
    ['key: an object', () => ({ kv, key: { digest: true } }), 'key'],
    ["prefix with ':'", () => ({ kv, prefix: 'a:b' }), 'prefix'],
    ['prefix: empty', () => ({ kv, prefix: '' }), 'prefix'],
    ['prefix: 65 characters', () => ({ kv, prefix: 'x'.repeat(65) }), 'prefix'],
    ["prefix: '*'", () => ({ kv, prefix: '*' }), 'prefix'],
    ['prefix: a number', () => ({ kv, prefix: 7 }), 'prefix'],
    ["invalidation: 'other'", () => ({ kv, invalidation: 'other' }), 'invalidation'],
    ["documentStamps: 'yes'", () => ({ kv, documentStamps: 'yes' }), 'documentStamps'],
    ['purgeBudget: 1', () => ({ kv, purgeBudget: 1 }), 'purgeBudget'],
    ['coalesceWaitMs: -1', () => ({ kv, coalesceWaitMs: -1 }), 'coalesceWaitMs'],
    ["coalesceWaitMs: '5'", () => ({ kv, coalesceWaitMs: '5' }), 'coalesceWaitMs'],
    ['purgeBudget: 1001 (over Workers’ 1,000 KV operations per invocation)', () => ({ kv, purgeBudget: 1001 }), 'purgeBudget'],
    ['purgeBudget: 2.5', () => ({ kv, purgeBudget: 2.5 }), 'purgeBudget'],
    ["purgeBudget: '500'", () => ({ kv, purgeBudget: '500' }), 'purgeBudget'],
    ['waitUntil: not a function', () => ({ kv, waitUntil: {} }), 'waitUntil'],
    ['kvTimeoutMs: 0', () => ({ kv, kvTimeoutMs: 0 }), 'kvTimeoutMs'],
    ['kvTimeoutMs: -1', () => ({ kv, kvTimeoutMs: -1 }), 'kvTimeoutMs'],
    ["kvTimeoutMs: '50'", () => ({ kv, kvTimeoutMs: '50' }), 'kvTimeoutMs'],
    ['strongStamps: a KV namespace', () => ({ kv, strongStamps: kv }), 'strongStamps'],
    [
      "collections.prices.consistency: 'strong' without strongStamps",
      () => ({ kv, collections: { prices: { consistency: 'strong' } } }),
      'collections.prices.consistency',
    ],
    ["globals.stock.consistency: 'always'", () => ({ kv, globals: { stock: { consistency: 'always' } } }), 'globals.stock.consistency'],
    [
      "strongStamps with invalidation: 'prefix'",
      () => ({ kv, invalidation: 'prefix', strongStamps: { idFromName: () => 'x', get: () => ({}) } }),
      'strongStamps',
    ],
    // The clock is a test hook, not an option: given as one, it is refused like any unknown name.
    ['clock given as an option', () => ({ kv, clock: () => 0 }), 'clock'],
    ['clock: a number', () => withTestHooks({ kv }, { clock: 5 } as unknown as TestHooks), 'clock'],
    ['clock: { now } without sleep', () => withTestHooks({ kv }, { clock: { now: () => 0 } } as unknown as TestHooks), 'clock'],
  ]

  it.each(cases)('%s: KVCacheConfigError naming the option', (_, options, option) => {
    const error = configError(bad(options()))
    expect(error.name).toBe('KVCacheConfigError')
    expect(error.message).toContain(`\`${option}\``)
  })

  it('accepts the limits of what is valid', () => {
    expect(() => withKV({ ttl: 0.5, prefix: 'x'.repeat(64), kvTimeoutMs: 1, invalidation: 'stamp' })()).not.toThrow()
    expect(() => withKV({ prefix: 'A-z_0.9' })()).not.toThrow()
    expect(() => withKV({ operations: { find: true, count: false, findOne: { ttl: 5 }, findGlobal: {} } })()).not.toThrow()
    expect(() =>
      withKV({ collections: { posts: { ttl: 5, operations: { find: false } }, notes: false, users: true }, globals: { banner: true } })(),
    ).not.toThrow()
    expect(() => bad(withTestHooks({ kv, key: () => 'k', waitUntil: () => undefined }, { clock: () => 0 }))()).not.toThrow()
    expect(() => bad(withTestHooks({ kv }, { clock: { now: () => 0, sleep: async () => undefined } }))()).not.toThrow()
    expect(() => withKV({ invalidation: 'prefix', purgeBudget: 2 })()).not.toThrow()
    expect(() => withKV({ coalesceWaitMs: 0 })()).not.toThrow()
    expect(() => withKV({ invalidation: 'prefix', purgeBudget: 1000 })()).not.toThrow()
    expect(() => withKVCache(adapter(), { kv: () => kv })).not.toThrow()
  })

  it('rejects a first argument that is not an adapter (after checking the options)', () => {
    expect(() => withKVCache({} as DatabaseAdapterObj, { kv })).toThrow(TypeError)
    expect(() => withKVCache(undefined as unknown as DatabaseAdapterObj, { kv })).toThrow(/database adapter/)
  })

  it('takes the namespace itself in place of options', () => {
    const inner = adapter()
    const wrapped = withKVCache(inner, kv)
    expect(wrapped.name).toBe(inner.name)
    expect(wrapped.kvCache).toBeDefined()
  })

  it('keeps name, defaultIDType and allowIDOnCreate and adds a kvCache handle', () => {
    const inner = sqliteAdapter({ client: { url: `file:${join(dir, 'keep.db')}` }, idType: 'uuid', allowIDOnCreate: true })
    const wrapped = withKVCache(inner, { kv })
    expect(wrapped.name).toBe('sqlite')
    expect(wrapped.name).toBe(inner.name)
    expect(wrapped.defaultIDType).toBe(inner.defaultIDType)
    expect(wrapped.defaultIDType).toBe('text')
    expect(wrapped.allowIDOnCreate).toBe(true)
    expect(wrapped.allowIDOnCreate).toBe(inner.allowIDOnCreate)
    expect(wrapped.init).not.toBe(inner.init)
    for (const key of Object.keys(inner)) {
      if (key !== 'init') expect(wrapped[key as keyof typeof wrapped]).toBe(inner[key as keyof typeof inner])
    }
    const handle = wrapped.kvCache
    expect(typeof handle.stats).toBe('function')
    expect(typeof handle.settled).toBe('function')
    expect(typeof handle.run).toBe('function')
    expect(typeof handle.invalidate).toBe('function')
    expect(typeof handle.invalidateAll).toBe('function')
    // Before init: empty counters, settled at once, invalidation refused with a clear message.
    expect(handle.stats()).toMatchObject({ hits: 0, misses: 0, fills: 0 })
    return expect(
      Promise.all([
        handle.settled(),
        handle.invalidateAll().then(
          () => 'resolved',
          (e: Error) => e.message,
        ),
      ]),
    ).resolves.toEqual([undefined, expect.stringMatching(/not initialised/)])
  })
})

describe('options checked against the Payload config at init', () => {
  it.each([
    ['collections', { collections: { nope: true } }, 'collections.nope'],
    ['collections (a slug differing only in case)', { collections: { Posts: { ttl: 5 } } }, 'collections.Posts'],
    ['globals', { globals: { missing: false } }, 'globals.missing'],
    ['globals (a collection slug given as a global)', { globals: { posts: true } }, 'globals.posts'],
  ])('an unknown slug in %s fails getPayload with a message naming it', async (_, options, option) => {
    const wrapped = withKVCache(adapter(), { kv, ...options })
    let thrown: unknown
    try {
      const payload = await startPayload(wrapped)
      await closePayload(payload)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(Error)
    expect((thrown as Error).message).toContain(`\`${option}\``)
  })

  it('known slugs, default exclusions and auth collections among them, are accepted', async () => {
    const wrapped = withKVCache(adapter(), {
      kv,
      collections: { posts: { ttl: 5 }, users: true, 'payload-jobs': false },
      globals: { settings: true },
    })
    const payload = await startPayload(wrapped)
    await closePayload(payload)
  })

  it('kv as a function: used on each call; when it stops returning a namespace, reads still succeed from the database', async () => {
    let binding: unknown = kv
    let asked = 0
    const wrapped = withKVCache(adapter(), {
      kv: () => {
        asked++
        return binding as KVNamespaceLike
      },
      prefix: 'fn-binding',
    })
    const payload = await startPayload(wrapped)
    try {
      await payload.create({ collection: 'notes', data: { text: 'via function' } })
      const log = spyOnDatabase(payload)
      const first = await payload.find({ collection: 'notes' })
      await wrapped.kvCache.settled()
      const second = await payload.find({ collection: 'notes' })
      expect(log.reads.filter((call) => call === 'find:notes')).toHaveLength(1)
      expect(second).toStrictEqual(first)
      expect(asked).toBeGreaterThan(0)

      binding = { not: 'a namespace' }
      log.reset()
      const before = wrapped.kvCache.stats()
      const third = await payload.find({ collection: 'notes' })
      expect(third).toStrictEqual(first)
      expect(log.reads).toEqual(['find:notes'])
      expect(wrapped.kvCache.stats().kvErrors).toBeGreaterThan(before.kvErrors)
      log.restore()
    } finally {
      binding = kv
      await wrapped.kvCache.settled()
      await closePayload(payload)
    }
  })

  it('with the namespace passed directly, Payload runs and repeats are served from KV', async () => {
    const inner = adapter()
    const wrapped = withKVCache(inner, kv)
    const payload = await startPayload(wrapped)
    try {
      expect(payload.db.name).toBe('sqlite')
      expect((payload.db as unknown as { kvCache: unknown }).kvCache).toBe(wrapped.kvCache)
      expect(unwrapAdapter(payload.db)).not.toBe(payload.db)
      await payload.create({ collection: 'notes', data: { text: 'direct' } })
      const log = spyOnDatabase(payload)
      const first = await payload.find({ collection: 'notes' })
      await wrapped.kvCache.settled()
      const second = await payload.find({ collection: 'notes' })
      expect(log.reads.filter((call) => call === 'find:notes')).toHaveLength(1)
      expect(second).toStrictEqual(first)
      expect(first.docs.map((doc) => doc.text)).toEqual(['direct'])
      expect(wrapped.kvCache.stats()).toMatchObject({ hits: 1, fills: 1 })
      // the default prefix
      const listed = await kv.list({ prefix: 'pkc:c:notes:find:' })
      expect(listed.keys).toHaveLength(1)
      log.restore()
    } finally {
      await wrapped.kvCache.settled()
      await closePayload(payload)
    }
  })
})
