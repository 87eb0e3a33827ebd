import { afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals'
import { random } from '@pkc/testkit'
import type { Payload } from 'payload'
import { unwrapAdapter } from '../src/index.js'
import type { Pair } from './support/app.js'
import { useTestEnv, withStrategy } from './support/env.js'
import { differentialSuite } from './suites/differential.js'
import type { Fault } from './support/faults.js'
import { faultyKV } from './support/faults.js'

/** Audit mode through real Payload on SQLite, with Miniflare's KV. */
const env = useTestEnv('sqlite')

type FindOne = (args: Record<string, unknown>) => Promise<unknown>

/** The warn lines the cache logged through Payload's logger while `fn` ran (and settled). */
function spyWarn(payload: Payload): { lines: () => string[]; restore: () => void } {
  const spy = jest.spyOn(payload.logger, 'warn').mockImplementation(() => undefined)
  return {
    lines: () => spy.mock.calls.map((call) => String(call[0])).filter((line) => line.startsWith('payload-kv-cache:')),
    restore: () => spy.mockRestore(),
  }
}

describe('audit mode (sampleRate: 1)', () => {
  let pair: Pair
  let id: number | string
  const read = () => pair.cached.findByID({ collection: 'notes', id, depth: 0 })

  beforeAll(async () => {
    pair = await env.newPair({ audit: { sampleRate: 1 } })
    id = (await pair.cached.create({ collection: 'notes', data: { text: 'first' } })).id
  })

  /** Fills the entry and settles, so the next read is a hit. */
  async function warm(): Promise<void> {
    await read()
    await pair.cache.settled()
  }

  it('catches a real stale hit: a write behind the wrapper’s back is counted and logged once, with scope, operation and the path', async () => {
    await warm()
    const warn = spyWarn(pair.cached)
    try {
      const before = pair.cache.stats()
      // The unwrapped Payload on the same database: no invalidation reaches the cache.
      await pair.plain.update({ collection: 'notes', id, data: { text: 'changed behind its back' } })
      const served = await read()
      // The cache served the old row: exactly the staleness the audit exists to find.
      expect(served.text).toBe('first')
      expect(pair.cache.stats().hits - before.hits).toBe(1)
      await pair.cache.settled()
      const after = pair.cache.stats()
      expect(after.auditMismatches - before.auditMismatches).toBe(1)
      expect(after.audits - before.audits).toBe(1)
      expect(pair.cache.breakdown().byScope['c:notes']?.auditMismatches).toBe(1)
      expect(pair.cache.breakdown().byOperation.findOne?.auditMismatches).toBe(1)
      const lines = warn.lines().filter((line) => line.includes('audit'))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain('c:notes')
      expect(lines[0]).toContain('findOne')
      expect(lines[0]).toMatch(/text: "first" \(served\) vs "changed behind its back" \(database\)/)
    } finally {
      warn.restore()
    }
    // What an operator then does: invalidate, and the audits agree again.
    await pair.cache.invalidate({ collections: ['notes'] })
    await warm()
    const before = pair.cache.stats()
    expect((await read()).text).toBe('changed behind its back')
    await pair.cache.settled()
    expect(pair.cache.stats().audits - before.audits).toBe(1)
    expect(pair.cache.stats().auditMismatches).toBe(before.auditMismatches)
  })

  it('a hit whose audit read races a write in this isolate is skipped, not counted as a mismatch', async () => {
    await warm()
    const inner = unwrapAdapter(pair.cached.db) as unknown as { findOne: FindOne }
    const original = inner.findOne
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    let held = 0
    // Holds the audit's database read (the first inner findOne of a note after the hit)
    // until the write below has committed.
    const spy = jest.spyOn(inner, 'findOne').mockImplementation(async function (this: unknown, args: Record<string, unknown>) {
      if (args.collection === 'notes' && held++ === 0) await gate
      return original.call(this, args)
    })
    try {
      const before = pair.cache.stats()
      const served = await read()
      expect(pair.cache.stats().hits - before.hits).toBe(1)
      // The audit starts in a later macrotask: wait until its read is held.
      for (let turn = 0; held === 0 && turn < 1000; turn++) await new Promise((resolve) => setImmediate(resolve))
      expect(held).toBe(1)
      await pair.cached.update({ collection: 'notes', id, data: { text: `written at ${Date.now()}` } })
      release()
      await pair.cache.settled()
      const after = pair.cache.stats()
      // The audit read saw the new row while the hit had served the old one, correctly.
      expect(served.text).not.toBe((await pair.plain.findByID({ collection: 'notes', id })).text)
      expect(after.auditsSkipped - before.auditsSkipped).toBe(1)
      expect(after.auditMismatches - before.auditMismatches).toBe(0)
    } finally {
      release()
      spy.mockRestore()
    }
  })

  it('the audit read runs after the hit is returned, outside any transaction, on a copy of the arguments', async () => {
    await warm()
    const inner = unwrapAdapter(pair.cached.db) as unknown as { findOne: FindOne }
    const original = inner.findOne
    const seen: Array<Record<string, unknown>> = []
    const spy = jest.spyOn(inner, 'findOne').mockImplementation(async function (this: unknown, args: Record<string, unknown>) {
      seen.push(args)
      return original.call(this, args)
    })
    try {
      const where = { id: { equals: id } }
      // The id of a transaction that has ended: not live, so the hit is served (a promise of null
      // would mark a write in progress, which reads from the database: README, Reads inside a write).
      const adapterArgs = { collection: 'notes', where, req: { transactionID: 'ended-transaction' } }
      const db = pair.cached.db as unknown as { findOne: FindOne }
      await db.findOne(adapterArgs)
      await pair.cache.settled()
      const before = pair.cache.stats()
      const hit = await db.findOne(adapterArgs)
      // Nothing has reached the database when the hit is handed out.
      expect(seen).toHaveLength(1)
      // Changed by the caller after the hit: the audit still reads what was asked.
      where.id.equals = -1
      expect(hit).toStrictEqual(
        await (pair.plain.db as unknown as { findOne: FindOne }).findOne({ collection: 'notes', where: { id: { equals: id } } }),
      )
      await pair.cache.settled()
      expect(seen).toHaveLength(2)
      const audited = seen[1]!
      expect(audited).not.toBe(adapterArgs)
      expect(audited.where).toStrictEqual({ id: { equals: id } })
      expect((audited.req as { transactionID?: unknown }).transactionID).toBeUndefined()
      expect(pair.cache.stats().audits - before.audits).toBe(1)
      expect(pair.cache.stats().auditMismatches).toBe(before.auditMismatches)
    } finally {
      spy.mockRestore()
    }
  })
})

describe('audit sampling', () => {
  it('sampleRate 0.5 audits the hits whose random draw is under 0.5: about half, exactly as the seeded draws say', async () => {
    const draws = random(1234)
    const pair = await env.newPair({ audit: { sampleRate: 0.5 }, random: draws })
    const id = (await pair.cached.create({ collection: 'notes', data: { text: 'sampled' } })).id
    await pair.cached.findByID({ collection: 'notes', id })
    await pair.cache.settled()
    const replay = random(1234)
    const before = pair.cache.stats()
    let expected = 0
    const hits = 60
    for (let i = 0; i < hits; i++) {
      await pair.cached.findByID({ collection: 'notes', id })
      if (replay() < 0.5) expected++
    }
    await pair.cache.settled()
    const after = pair.cache.stats()
    expect(after.hits - before.hits).toBe(hits)
    expect(after.audits - before.audits).toBe(expected)
    expect(expected).toBeGreaterThan(hits * 0.3)
    expect(expected).toBeLessThan(hits * 0.7)
    expect(after.auditMismatches).toBe(0)
  })

  it('without audit, no hit is read again from the database', async () => {
    const pair = await env.newPair()
    const id = (await pair.cached.create({ collection: 'notes', data: { text: 'unaudited' } })).id
    await pair.cached.findByID({ collection: 'notes', id })
    await pair.cache.settled()
    const inner = unwrapAdapter(pair.cached.db) as unknown as { findOne: FindOne }
    const spy = jest.spyOn(inner, 'findOne')
    try {
      for (let i = 0; i < 5; i++) await pair.cached.findByID({ collection: 'notes', id })
      await pair.cache.settled()
      expect(spy).not.toHaveBeenCalled()
      expect(pair.cache.stats().audits).toBe(0)
    } finally {
      spy.mockRestore()
    }
  })
})

describe('faults with every hit audited: KV failing and recovering never makes a hit differ from the database', () => {
  let pair: Pair
  const faults: { get: Fault; put: Fault } = { get: 'ok', put: 'ok' }
  const ids: Array<number | string> = []
  let skew = 0

  beforeAll(async () => {
    pair = await env.newPair({
      kvTimeoutMs: 200,
      clock: () => Date.now() + skew,
      audit: { sampleRate: 1 },
      wrapKV: (kv) => faultyKV(kv, (method) => (method === 'get' || method === 'put' ? faults[method] : 'ok')),
    })
    for (const text of ['one', 'two', 'three']) ids.push((await pair.cached.create({ collection: 'notes', data: { text } })).id)
    await pair.cached.updateGlobal({ slug: 'banner', data: { text: 'banner' } })
  })

  afterEach(() => {
    faults.get = 'ok'
    faults.put = 'ok'
  })

  const reads: Array<(p: Payload) => Promise<unknown>> = [
    (p) => p.find({ collection: 'notes', sort: 'text' }),
    (p) => p.findByID({ collection: 'notes', id: ids[0]! }),
    (p) => p.count({ collection: 'notes' }),
    (p) => p.findGlobal({ slug: 'banner' }),
  ]

  async function readAll(): Promise<void> {
    for (const read of reads) expect(await read(pair.cached)).toStrictEqual(await read(pair.plain))
  }

  it.each(['throw', 'hang'] as const)(
    'KV that %ss on get and put, then recovers: reads and writes go on, and the audits find nothing',
    async (fault) => {
      await readAll()
      await pair.cache.settled()
      await readAll()
      const before = pair.cache.stats()
      faults.get = fault
      faults.put = fault
      await readAll()
      await pair.cached.update({ collection: 'notes', id: ids[1]!, data: { text: `two (${fault})` } })
      await pair.cached.updateGlobal({ slug: 'banner', data: { text: `banner (${fault})` } })
      await readAll()
      faults.get = 'ok'
      faults.put = 'ok'
      await pair.cache.settled()
      // Past the retry backoff of the stamps that could not be written.
      skew += 10_000
      await readAll()
      await pair.cache.settled()
      await readAll()
      await pair.cache.settled()
      const after = pair.cache.stats()
      expect(after.kvErrors + after.timeouts).toBeGreaterThan(before.kvErrors + before.timeouts)
      // Hits before and after the fault were audited, and agreed with the database.
      expect(after.audits - before.audits).toBeGreaterThanOrEqual(reads.length)
      expect(after.auditMismatches).toBe(0)
      expect(after.auditErrors).toBe(0)
    },
  )
})

// The seeded differential with every hit audited, once per invalidation strategy (the stamp
// run with SQLite transactions on, so writes commit through the transaction path): zero
// mismatches, or the audit would cry wolf in staging.
differentialSuite(env, 250, { audit: true, transactions: true })
differentialSuite(withStrategy(env, 'prefix'), 150, { audit: true })
