import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import type { KVServer } from '@pkc/testkit'
import { countingKV, startKV } from '@pkc/testkit'
import { BackgroundWork } from '../src/background.js'
import { countingRequest, currentRequest } from '../src/context.js'
import type { KVNamespaceLike } from '../src/index.js'
import { StampReads } from '../src/invalidation/stamp-reads.js'
import { burstHorizon, slotKeys, STAMP_SLOTS } from '../src/invalidation/stamp-tokens.js'
import { Stamps } from '../src/invalidation/stamps.js'
import { Counters } from '../src/stats.js'
import { REQUEST_OPERATIONS, SafeKV } from '../src/store.js'
import { ManualClock, skippingClock } from './support/clock.js'

/** The stamp writer on its own, on Miniflare's KV: slots, burst horizons, and puts that fail. */
describe('stamp slots', () => {
  let server: KVServer
  beforeAll(async () => {
    server = await startKV()
  })
  afterAll(async () => {
    await server.dispose()
  })

  function stampsOn(
    kv: KVNamespaceLike,
    clock: { now: () => number; sleep: (ms: number) => Promise<void> },
    prefix: string,
    timeoutMs = 1000,
  ) {
    const counters = new Counters()
    const background = new BackgroundWork(undefined)
    const stamps = new Stamps({
      kv: new SafeKV(
        () => kv,
        timeoutMs,
        counters.totals,
        () => undefined,
      ),
      prefix,
      clock: clock.now,
      sleep: clock.sleep,
      counters,
      background,
      report: () => undefined,
    })
    return { stamps, counters, background }
  }

  it('each bump within a second takes the next slot at once; the one that takes the last carries a horizon past the moment the first frees', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1))
    const kv = countingKV(server.kv)
    const { stamps, counters, background } = stampsOn(kv, clock, 'slots')
    for (let i = 0; i < STAMP_SLOTS; i++) {
      await stamps.bump(['c:posts'])
      await clock.advance(10)
    }
    expect(kv.puts).toEqual(['slots:stamp:c:posts', 'slots:stamp:1:c:posts', 'slots:stamp:2:c:posts'])
    const tokens = await server.kv.get(['slots:stamp:c:posts', 'slots:stamp:1:c:posts', 'slots:stamp:2:c:posts'], 'text')
    expect(burstHorizon(tokens.get('slots:stamp:c:posts'))).toBeUndefined()
    expect(burstHorizon(tokens.get('slots:stamp:1:c:posts'))).toBeUndefined()
    // The first slot frees at +1000 ms; the horizon reaches past it.
    expect(burstHorizon(tokens.get('slots:stamp:2:c:posts'))).toBeGreaterThan(Date.UTC(2026, 0, 1) + 1000)
    // Another bump now returns once a read finds the horizon still in KV, carried by the
    // trailing put when slot 0 frees.
    await stamps.bump(['c:posts'])
    expect(kv.puts).toHaveLength(3)
    expect(counters.totals.stampsVerified).toBe(1)
    await clock.advance(1000)
    expect(kv.puts[3]).toBe('slots:stamp:c:posts')
    await clock.until(background.settled())
  })

  it('a put that never answers: the write waits through its retries (one timeout each), returns once they are given up on, and this isolate bypasses', async () => {
    const hanging: KVNamespaceLike = {
      ...server.kv,
      get: server.kv.get.bind<KVNamespaceLike['get']>(server.kv),
      put: () => new Promise<void>(() => undefined),
    }
    // Real time passes while a put times out, so the first slot frees again during the third
    // slot's timeout: a writer that moved to the next slot on every failure never stopped.
    const { stamps, counters, background } = stampsOn(hanging, skippingClock(), 'hang', 400)
    const started = Date.now()
    const outcome = await Promise.race([
      stamps.bump(['c:posts']).then(() => 'returned'),
      new Promise((resolve) => setTimeout(() => resolve('hung'), 5000)),
    ])
    expect(outcome).toBe('returned')
    // Until then other isolates still saw the old tokens: it waited for every attempt.
    expect(Date.now() - started).toBeGreaterThanOrEqual(4 * 400 - 50)
    expect(Date.now() - started).toBeLessThan(4000)
    expect(stamps.isUnsettled(['c:posts'])).toBe(true)
    // The retries, then giving up: reported and counted, not a loop.
    await background.settled()
    expect(counters.totals.stampRetries).toBe(3)
    expect(counters.totals.stampFailures).toBe(1)
  })

  /**
   * What another isolate's read concludes from the stamp right now: its signature, and
   * whether a burst keeps it off the scope.
   */
  async function seenElsewhere(prefix: string, clock: ManualClock) {
    const reads = new StampReads(prefix, clock.now, 'otherisl')
    const keys = slotKeys(prefix, 'c:posts')
    const values = await server.kv.get(keys, 'text')
    return { signature: reads.signature(keys, values), burst: reads.burstOpen(keys, values) }
  }

  it('a bump that returns on a burst horizon another isolate has replaced with a plain token (a KV that takes every put) waits for its own put instead', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 2))
    const a = stampsOn(server.kv, clock, 'over')
    const b = stampsOn(server.kv, clock, 'over')
    // B wrote slots 0 and 1 a while ago: its next put goes to slot 2.
    await b.stamps.bump(['c:posts'])
    await b.stamps.bump(['c:posts'])
    await clock.advance(1500)
    // A's burst: its third put, in slot 2, carries the horizon.
    for (let i = 0; i < STAMP_SLOTS; i++) await a.stamps.bump(['c:posts'])
    expect((await seenElsewhere('over', clock)).burst).toBe(true)
    // B puts a plain token over it: production KV would refuse that put for a second, Miniflare does not.
    await b.stamps.bump(['c:posts'])
    const before = await seenElsewhere('over', clock)
    expect(before.burst).toBe(false)
    // A writes again. However its bump resolves, another isolate must then see a new token or a burst.
    let returned = false
    const bumped = a.stamps.bump(['c:posts']).then(() => (returned = true))
    await new Promise((resolve) => setTimeout(resolve, 100))
    if (returned) {
      const after = await seenElsewhere('over', clock)
      expect(after.signature !== before.signature || after.burst).toBe(true)
    }
    // It waits for the put its slot carries when it frees.
    expect(returned).toBe(false)
    await clock.until(bumped)
    expect((await seenElsewhere('over', clock)).signature).not.toBe(before.signature)
    await clock.until(Promise.all([a.background.settled(), b.background.settled()]))
  })

  it('a burst horizon lasts until the trailing put lands, even when that put times out and lands on a retry past the old fixed horizon', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 3))
    let hang = false
    const kv: KVNamespaceLike = {
      ...server.kv,
      get: server.kv.get.bind<KVNamespaceLike['get']>(server.kv),
      put: (key, value, options) => (hang ? new Promise<void>(() => undefined) : server.kv.put(key, value, options)),
    }
    const a = stampsOn(kv, clock, 'reach', 50)
    for (let i = 0; i < STAMP_SLOTS; i++) await a.stamps.bump(['c:posts'])
    // A further bump, covered by the horizon: it returns, its token still to come.
    await a.stamps.bump(['c:posts'])
    const returnedAt = await seenElsewhere('reach', clock)
    expect(returnedAt.burst).toBe(true)
    // The trailing put hangs past the timeout; its retries come 1 and 2 s later.
    hang = true
    await clock.advance(1000)
    await new Promise((resolve) => setTimeout(resolve, 150))
    await clock.advance(2500)
    // Past where a horizon of the next free slot plus the timeout and a second would end:
    // nothing of the write is in KV yet, so another isolate must still be kept off.
    const meanwhile = await seenElsewhere('reach', clock)
    expect(meanwhile.signature).toBe(returnedAt.signature)
    expect(meanwhile.burst).toBe(true)
    hang = false
    await clock.until(a.background.settled())
    // Landed: a new token, and the burst over (a newer token of A's closed it).
    const landed = await seenElsewhere('reach', clock)
    expect(landed.signature).not.toBe(returnedAt.signature)
    expect(landed.burst).toBe(false)
  })

  it('the put that closes a burst starts none of its own: two writes in the second after it carry no horizon; a third waits for a slot, and its put carries one', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 5))
    const start = clock.now()
    const kv = countingKV(server.kv)
    const { stamps, background } = stampsOn(kv, clock, 'chain')
    const at = (ms: number) => clock.advance(start + ms - clock.now())
    // A burst: three writes within a second, the third token with a horizon.
    for (let i = 0; i < STAMP_SLOTS; i++) {
      await at(i * 100)
      await stamps.bump(['c:posts'])
    }
    expect((await seenElsewhere('chain', clock)).burst).toBe(true)
    // No write follows: when slot 0 frees, the writer puts the token that closes it.
    await at(1000)
    await background.settled()
    expect(kv.puts).toHaveLength(STAMP_SLOTS + 1)
    expect((await seenElsewhere('chain', clock)).burst).toBe(false)
    // Two writes in the second after it: the closing put holds one of its slots, so the
    // second write takes the last one free, yet two writes a second are no burst (README
    // *Write bursts*). With a horizon, other isolates would be kept off again and another
    // closing put would follow: a burst that two writes a second keep going.
    await at(1150)
    await stamps.bump(['c:posts'])
    expect((await seenElsewhere('chain', clock)).burst).toBe(false)
    await at(1650)
    await stamps.bump(['c:posts'])
    expect((await seenElsewhere('chain', clock)).burst).toBe(false)
    // A third write in that second finds no slot and no horizon to return on: it waits for
    // the closing put's slot to free, and that put, the third of its second, carries one.
    await at(1700)
    let returned = false
    const third = stamps.bump(['c:posts']).then(() => (returned = true))
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(returned).toBe(false)
    await at(2000)
    await third
    expect(kv.puts).toHaveLength(STAMP_SLOTS + 4)
    expect((await seenElsewhere('chain', clock)).burst).toBe(true)
    await clock.until(background.settled())
  })

  it('on Workers without waitUntil a bump never returns on a horizon: its trailing put could be dropped with the response', async () => {
    const navigator = Object.getOwnPropertyDescriptor(globalThis, 'navigator')
    Object.defineProperty(globalThis, 'navigator', { value: { userAgent: 'Cloudflare-Workers' }, configurable: true })
    try {
      const clock = new ManualClock(Date.UTC(2026, 0, 4))
      const kv = countingKV(server.kv)
      const a = stampsOn(kv, clock, 'nowait')
      expect(a.background.outlivesResponse).toBe(false)
      for (let i = 0; i < STAMP_SLOTS; i++) await a.stamps.bump(['c:posts'])
      let returned = false
      const bumped = a.stamps.bump(['c:posts']).then(() => (returned = true))
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(returned).toBe(false)
      await clock.until(bumped)
      expect(kv.puts).toHaveLength(STAMP_SLOTS + 1)
      await clock.until(a.background.settled())
    } finally {
      if (navigator) Object.defineProperty(globalThis, 'navigator', navigator)
      else delete (globalThis as { navigator?: unknown }).navigator
    }
  })

  it('per request, as Workers count KV operations: past 20 document stamps a request bumps the bulk stamp instead; past its budget no call is made, and the write returns at once', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 5))
    const kv = countingKV(server.kv)
    const { stamps, counters, background } = stampsOn(kv, clock, 'budget')
    // A bulk edit: one request, a document after another, each in a second of its own (so the
    // per-second fold does not apply).
    const bulk = { context: {} }
    await countingRequest(bulk, async () => {
      for (let i = 0; i < 25; i++) {
        await clock.until(stamps.bump([`c:posts#=${i}`]))
        await clock.advance(1100)
      }
    })
    expect(counters.totals.stampsFolded).toBe(5)
    expect(kv.puts.filter((key) => key.endsWith('c:posts#*')).length).toBeGreaterThan(0)
    expect(kv.puts.filter((key) => /c:posts#=2[0-4]$/.test(key))).toEqual([])
    // A request that has spent its operations: the put is not made, the bump returns at once,
    // and this isolate bypasses the scope until a later request writes it.
    const puts = kv.puts.length
    const spent = { context: {} }
    let returned = false
    await countingRequest(spent, async () => {
      currentRequest()!.used = REQUEST_OPERATIONS
      await stamps.bump(['c:posts']).then(() => (returned = true))
    })
    expect(returned).toBe(true)
    expect(kv.puts.length).toBe(puts)
    expect(stamps.isUnsettled(['c:posts'])).toBe(true)
    await countingRequest({ context: {} }, () => clock.until(stamps.bump(['c:posts'])))
    expect(kv.puts.length).toBe(puts + 1)
    expect(stamps.isUnsettled(['c:posts'])).toBe(false)
    await clock.until(background.settled())
  })
})
