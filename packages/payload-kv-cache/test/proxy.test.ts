import { beforeAll, describe, expect, it, jest } from '@jest/globals'
import { unwrapAdapter } from '../src/index.js'
import type { Pair } from './support/app.js'
import { useTestEnv } from './support/env.js'
import type { AdapterCall, NotesPair } from './support/inspect.js'
import { db, useNotesPair } from './support/inspect.js'
import type { CallLog } from './support/spy.js'

/** The Proxy over the inner adapter: names, property writes, one wrapper per method, spies and plugins. */
const env = useTestEnv('sqlite')

describe('the proxy', () => {
  const fixture = useNotesPair(env, 'proxy')
  let pair: Pair
  let log: CallLog
  let notes: NotesPair['notes']

  beforeAll(() => {
    pair = fixture.pair
    log = fixture.log
    notes = fixture.notes
  })

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
