import { beforeAll, describe, expect, it, jest } from '@jest/globals'
import type { DatabaseAdapterObj, Payload } from 'payload'
import type { CacheEvent, CacheStats, DetailedStats, KVCacheOptions, KVNamespaceLike } from '../src/index.js'
import { KVCacheConfigError, withKVCache } from '../src/index.js'
import type { TestHooks } from '../src/internals.js'
import { withTestHooks } from '../src/internals.js'
import type { Pair } from './support/app.js'
import { useTestEnv } from './support/env.js'
import { useNotesPair } from './support/inspect.js'

/** Stats (the totals, and by scope and operation), debug events and the onEvent hook, through real Payload on SQLite. */
const env = useTestEnv('sqlite')

type AdapterCall = (args: Record<string, unknown>) => Promise<unknown>
/** The adapter methods, called the way Payload calls them: one call each, so counts are exact. */
const db = (payload: Payload): Record<string, AdapterCall> => payload.db as unknown as Record<string, AdapterCall>

const notesFind = (p: Payload) => db(p).find!({ collection: 'notes', sort: 'text', limit: 10 })
const bypassed = (p: Payload) => db(p).count!({ collection: 'notes', req: { context: { kvCache: { bypass: true } } } })
const usersFind = (p: Payload) => db(p).find!({ collection: 'users', limit: 1 })

function delta(before: Partial<DetailedStats> | undefined, after: Partial<DetailedStats> | undefined): Partial<DetailedStats> {
  const out: Partial<DetailedStats> = {}
  for (const name of Object.keys(after ?? {}) as Array<keyof DetailedStats>) {
    const change = (after?.[name] ?? 0) - (before?.[name] ?? 0)
    if (change !== 0) out[name] = change
  }
  return out
}

/** Debug lines the cache wrote for events (not its other debug lines). */
function spyDebug(payload: Payload): { lines: () => string[]; restore: () => void } {
  const spy = jest.spyOn(payload.logger, 'debug').mockImplementation(() => undefined)
  const event =
    /^payload-kv-cache: (hit|miss|stale|malformed|coalesced|bypass|kvError|timeout|fill|fillSkip|invalidation|stampWrite|audit) /
  return {
    lines: () => spy.mock.calls.map((call) => String(call[0])).filter((line) => event.test(line)),
    restore: () => spy.mockRestore(),
  }
}

describe('new options are checked at call time', () => {
  const kv: KVNamespaceLike = {
    get: (async () => null) as unknown as KVNamespaceLike['get'],
    put: async () => undefined,
    delete: async () => undefined,
    list: async () => ({ keys: [], list_complete: true, cacheStatus: null }),
  }
  const adapter = { name: 'fake', defaultIDType: 'number', init: () => ({}) } as unknown as DatabaseAdapterObj
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ["debug: 'yes'", { debug: 'yes' }, 'debug'],
    ['debug: 1', { debug: 1 }, 'debug'],
    ['onEvent: a string', { onEvent: 'log' }, 'onEvent'],
    ['audit: true', { audit: true }, 'audit'],
    ['audit: 0.5 (a bare rate)', { audit: 0.5 }, 'audit'],
    ['audit: {} (no sampleRate)', { audit: {} }, 'audit.sampleRate'],
    ['audit.sampleRate: 1.5', { audit: { sampleRate: 1.5 } }, 'audit.sampleRate'],
    ['audit.sampleRate: -0.1', { audit: { sampleRate: -0.1 } }, 'audit.sampleRate'],
    ['audit.sampleRate: NaN', { audit: { sampleRate: NaN } }, 'audit.sampleRate'],
    ["audit.sampleRate: '1'", { audit: { sampleRate: '1' } }, 'audit.sampleRate'],
    // The audit's random draws are a test hook, not an audit option.
    ['audit.random given as an audit option', { audit: { sampleRate: 1, random: Math.random } }, 'audit.random'],
    ['random (a test hook): a number', withTestHooks({ audit: { sampleRate: 1 } }, { random: 4 } as unknown as TestHooks), 'random'],
    ['audit.rate (misspelt)', { audit: { rate: 1 } }, 'audit.rate'],
  ]

  it.each(cases)('%s: KVCacheConfigError naming the option', (_, options, option) => {
    let thrown: unknown
    try {
      withKVCache(adapter, { kv, ...options })
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(KVCacheConfigError)
    expect((thrown as Error).message).toContain(`\`${option}\``)
  })

  it('accepts the valid ones', () => {
    const valid: Array<Omit<KVCacheOptions, 'kv'>> = [
      { debug: true },
      { debug: false, onEvent: () => undefined },
      { audit: false },
      { audit: { sampleRate: 0 } },
      withTestHooks({ audit: { sampleRate: 1 } }, { random: Math.random }),
      { audit: { sampleRate: 0.01 } },
    ]
    for (const options of valid) {
      expect(() => withKVCache(adapter, { kv, ...options })).not.toThrow()
    }
  })
})

describe('stats by scope and by operation', () => {
  it('move for the scope and operation that did the work; totals keep their shape and add up', async () => {
    const pair = await env.newPair()
    await pair.cached.create({ collection: 'notes', data: { text: 'a' } })
    await pair.cache.settled()
    await pair.cache.invalidateAll()
    const before = pair.cache.breakdown()
    const statsBefore = pair.cache.stats()

    await notesFind(pair.cached)
    await pair.cache.settled()
    await notesFind(pair.cached)
    await bypassed(pair.cached)
    await usersFind(pair.cached)
    await pair.cached.create({ collection: 'notes', data: { text: 'b' } })
    await pair.cache.settled()

    const after = pair.cache.breakdown()
    expect(delta(before.byScope['c:notes'], after.byScope['c:notes'])).toEqual({
      misses: 1,
      fills: 1,
      hits: 1,
      bypasses: 1,
      bypassesRequested: 1,
      invalidations: 1,
      // The collection's stamp, its membership stamp and the new note's, all counted under c:notes.
      stampWrites: 3,
      // Both finds of the notes are lists of their own rows (list precision).
      listsPrecise: 2,
    })
    // users are an auth collection: excluded by default.
    expect(delta(before.byScope['c:users'], after.byScope['c:users'])).toEqual({ bypasses: 1, bypassesExcluded: 1 })
    expect(delta(before.byOperation.find, after.byOperation.find)).toEqual({
      misses: 1,
      // The notes' finds are lists of their own rows (list precision); the users' read is excluded first.
      listsPrecise: 2,
      fills: 1,
      hits: 1,
      bypasses: 1,
      bypassesExcluded: 1,
    })
    expect(delta(before.byOperation.count, after.byOperation.count)).toEqual({ bypasses: 1, bypassesRequested: 1 })
    expect(delta(before.byOperation.create, after.byOperation.create)).toEqual({ invalidations: 1 })
    // Unrelated scopes did not move.
    expect(delta(before.byScope['c:posts'], after.byScope['c:posts'])).toEqual({})

    // stats() keeps its flat shape; the reasons live in breakdown().
    const stats = pair.cache.stats()
    expect(Object.keys(stats).sort()).toEqual(Object.keys(statsBefore).sort())
    expect(stats).not.toHaveProperty('bypassesRequested')
    const { totals } = after
    expect(totals.hits).toBe(stats.hits)
    expect(totals.bypasses).toBe(
      totals.bypassesExcluded +
        totals.bypassesTransaction +
        totals.bypassesRequested +
        totals.bypassesPending +
        totals.bypassesBurst +
        totals.bypassesUnkeyable,
    )
    expect(totals.fillSkips).toBe(
      totals.fillSkipsTooLarge + totals.fillSkipsUncacheable + totals.fillSkipsRace + totals.fillSkipsReplica + totals.fillSkipsMembers,
    )
    for (const name of Object.keys(stats) as Array<keyof CacheStats>) expect(totals[name]).toBe(stats[name])
  })
})

describe('stats', () => {
  const fixture = useNotesPair(env, 'stats')
  let pair: Pair

  beforeAll(() => {
    pair = fixture.pair
  })

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

describe('events', () => {
  it('with onEvent and debug: one typed event per step, and one debug line per event', async () => {
    const events: CacheEvent[] = []
    const pair = await env.newPair({ onEvent: (event) => events.push(event), debug: true, audit: { sampleRate: 1 } })
    await pair.cached.create({ collection: 'notes', data: { text: 'a' } })
    await pair.cache.settled()
    const debug = spyDebug(pair.cached)
    try {
      events.length = 0
      await notesFind(pair.cached)
      await pair.cache.settled()
      await notesFind(pair.cached)
      await bypassed(pair.cached)
      await pair.cache.settled()
      await pair.cached.create({ collection: 'notes', data: { text: 'b' } })
      await pair.cache.settled()

      const types = events.map((event) => event.type)
      expect(types).toEqual(expect.arrayContaining(['miss', 'fill', 'hit', 'audit', 'bypass', 'invalidation', 'stampWrite']))
      const reads = events.filter((event) => event.type === 'miss' || event.type === 'fill' || event.type === 'hit')
      expect(reads.map((event) => event.type)).toEqual(['miss', 'fill', 'hit'])
      for (const event of reads) {
        expect(event).toMatchObject({ scope: 'c:notes', operation: 'find' })
        expect(event.ms).toBeGreaterThanOrEqual(0)
      }
      // The same read, the same short key digest.
      const keys = new Set(reads.map((event) => ('key' in event ? event.key : undefined)))
      expect(keys.size).toBe(1)
      expect([...keys][0]).toMatch(/^[A-Za-z0-9_-]{10}$/)
      expect(events.find((event) => event.type === 'bypass')).toMatchObject({ scope: 'c:notes', operation: 'count', reason: 'requested' })
      expect(events.find((event) => event.type === 'audit')).toMatchObject({ scope: 'c:notes', operation: 'find', result: 'match' })
      expect(events.find((event) => event.type === 'invalidation')).toMatchObject({ scope: 'c:notes', operation: 'create' })
      expect(events.find((event) => event.type === 'stampWrite' && event.scope === 'c:notes')).toMatchObject({ scope: 'c:notes', ok: true })
      // The created note's own stamp (documentStamps) is written too.
      expect(events.find((event) => event.type === 'stampWrite' && event.scope.startsWith('c:notes#='))).toMatchObject({ ok: true })

      const lines = debug.lines()
      expect(lines).toHaveLength(events.length)
      expect(lines).toContainEqual(expect.stringMatching(/^payload-kv-cache: hit c:notes find key=[A-Za-z0-9_-]{10} \d+\.\dms$/))
      expect(lines).toContainEqual(expect.stringMatching(/^payload-kv-cache: bypass c:notes count reason=requested \d+\.\dms$/))
    } finally {
      debug.restore()
    }
  })

  it('off by default: no debug lines; onEvent alone logs nothing; a throwing hook never fails a read', async () => {
    const quiet = await env.newPair()
    const events: CacheEvent[] = []
    const hooked = await env.newPair({ onEvent: (event) => events.push(event) })
    const broken = await env.newPair({
      onEvent: () => {
        throw new Error('metrics down')
      },
    })
    for (const pair of [quiet, hooked, broken]) {
      const debug = spyDebug(pair.cached)
      const warn = jest.spyOn(pair.cached.logger, 'warn').mockImplementation(() => undefined)
      try {
        await notesFind(pair.cached)
        await pair.cache.settled()
        expect(await notesFind(pair.cached)).toStrictEqual(await notesFind(pair.plain))
        expect(debug.lines()).toEqual([])
        const warned = warn.mock.calls.map((call) => String(call[0]))
        if (pair === broken) expect(warned).toEqual([expect.stringContaining('the onEvent hook threw: metrics down')])
        else expect(warned).toEqual([])
      } finally {
        debug.restore()
        warn.mockRestore()
      }
    }
    expect(events.map((event) => event.type)).toEqual(['miss', 'fill', 'hit'])
  })
})
