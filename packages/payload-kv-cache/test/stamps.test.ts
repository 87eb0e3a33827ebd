import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import type { KVServer } from '@pkc/testkit'
import { countingKV, startKV } from '@pkc/testkit'
import { BackgroundWork } from '../src/background.js'
import type { KVNamespaceLike } from '../src/index.js'
import { burstHorizon, STAMP_SLOTS } from '../src/invalidation/stamp-tokens.js'
import { Stamps } from '../src/invalidation/stamps.js'
import { Counters } from '../src/stats.js'
import { SafeKV } from '../src/store.js'
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
    const { stamps } = stampsOn(kv, clock, 'slots')
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
    // Another bump now returns at once, carried by the trailing put when slot 0 frees.
    await stamps.bump(['c:posts'])
    expect(kv.puts).toHaveLength(3)
    await clock.advance(1000)
    expect(kv.puts.at(-1)).toBe('slots:stamp:c:posts')
  })

  it('a put that never answers fails its round after one timeout: the write returns, and this isolate bypasses while it retries', async () => {
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
    expect(Date.now() - started).toBeLessThan(2000)
    expect(stamps.isUnsettled(['c:posts'])).toBe(true)
    // The retries, then giving up: reported and counted, not a loop.
    await background.settled()
    expect(counters.totals.stampRetries).toBe(3)
    expect(counters.totals.stampFailures).toBe(1)
  })
})
