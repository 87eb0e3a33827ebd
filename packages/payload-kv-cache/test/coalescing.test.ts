import { beforeAll, describe, expect, it, jest } from '@jest/globals'
import type { Payload } from 'payload'
import { unwrapAdapter } from '../src/index.js'
import type { Pair } from './support/app.js'
import { useTestEnv } from './support/env.js'

/** Single-flight: concurrent identical misses in one isolate make one database call. */
const env = useTestEnv('sqlite')

type Find = (args: unknown) => Promise<unknown>

describe('request coalescing', () => {
  let pair: Pair
  let inner: { find: Find }

  beforeAll(async () => {
    pair = await env.newPair({ coalesceWaitMs: 300 })
    for (let i = 0; i < 5; i++) await pair.cached.create({ collection: 'notes', data: { text: `note ${i}` } })
    await pair.cache.settled()
    inner = unwrapAdapter(pair.cached.db) as unknown as { find: Find }
  })

  const readAll = (p: Payload) => p.find({ collection: 'notes', sort: 'text', depth: 0 })

  /** Counts inner finds of notes, holding each until `release` when `hold` is set. */
  function spyFinds(hold?: { until: Promise<void>; failFirst?: boolean }) {
    const original = inner.find
    let calls = 0
    const spy = jest.spyOn(inner, 'find').mockImplementation(async function (this: unknown, args: unknown) {
      if ((args as { collection?: string }).collection !== 'notes') return original.call(this, args)
      calls++
      const first = calls === 1
      if (hold && first) {
        await hold.until
        if (hold.failFirst) throw new Error('database went away')
      }
      // Long enough that every concurrent caller arrives while this call is out.
      await new Promise((resolve) => setImmediate(resolve))
      return original.call(this, args)
    })
    return { calls: () => calls, restore: () => spy.mockRestore() }
  }

  it('50 concurrent identical reads make one database call, and each caller gets its own copy', async () => {
    await pair.cache.invalidateAll()
    const misses = pair.cache.stats().misses
    // The database answers once all 50 have found KV empty: every one of them is concurrent.
    const allMissed = (async () => {
      while (pair.cache.stats().misses - misses < 50) await new Promise((resolve) => setImmediate(resolve))
    })()
    const finds = spyFinds({ until: allMissed })
    try {
      const before = pair.cache.stats().coalesced
      const results = await Promise.all(Array.from({ length: 50 }, () => readAll(pair.cached)))
      expect(finds.calls()).toBe(1)
      expect(pair.cache.stats().coalesced - before).toBe(49)
      const truth = await readAll(pair.plain)
      for (const result of results) expect(result).toStrictEqual(truth)
      expect(new Set(results).size).toBe(50)
      expect(new Set(results.map((r) => r.docs[0])).size).toBe(50)
    } finally {
      finds.restore()
    }
    await pair.cache.settled()
  })

  it('a first call that is stuck holds the others only for coalesceWaitMs; then they ask the database themselves', async () => {
    await pair.cache.invalidateAll()
    let release!: () => void
    const finds = spyFinds({ until: new Promise((resolve) => (release = resolve)) })
    try {
      const stuck = readAll(pair.cached)
      await new Promise((resolve) => setImmediate(resolve))
      const others = await Promise.all(Array.from({ length: 5 }, () => readAll(pair.cached)))
      expect(finds.calls()).toBe(6)
      const truth = await readAll(pair.plain)
      for (const result of others) expect(result).toStrictEqual(truth)
      release()
      expect(await stuck).toStrictEqual(truth)
    } finally {
      release()
      finds.restore()
    }
    await pair.cache.settled()
  })

  it('when the first call fails, the others make their own and succeed; only the first caller sees the error', async () => {
    await pair.cache.invalidateAll()
    let release!: () => void
    const finds = spyFinds({ until: new Promise((resolve) => (release = resolve)), failFirst: true })
    try {
      const failing = readAll(pair.cached)
      await new Promise((resolve) => setImmediate(resolve))
      const others = Promise.all(Array.from({ length: 5 }, () => readAll(pair.cached)))
      release()
      await expect(failing).rejects.toThrow('database went away')
      const results = await others
      const truth = await readAll(pair.plain)
      for (const result of results) expect(result).toStrictEqual(truth)
    } finally {
      finds.restore()
    }
    await pair.cache.settled()
  })
})
