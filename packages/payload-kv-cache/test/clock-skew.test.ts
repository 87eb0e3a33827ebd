import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { closePayload } from '@pkc/testkit'
import type { Payload } from 'payload'
import type { KVCacheHandle } from '../src/index.js'
import { withKVCache } from '../src/index.js'
import type { KVCacheClock } from '../src/internals.js'
import { withTestHooks } from '../src/internals.js'
import type { Database } from './support/app.js'
import { startPayload } from './support/app.js'
import { ManualClock } from './support/clock.js'
import { useTestEnv } from './support/env.js'
import { holdNextFind } from './support/hold.js'
import { seed } from './support/seed.js'

/*
 * The member race across isolates whose clocks disagree (README, Limits). A precise `find` is
 * not filled when one of its members' document stamps was written after its query began,
 * read from the time the token carries; another isolate's token is allowed to be a second
 * behind ours (CLOCK_SKEW_MS). Within that, a member edited elsewhere mid-query is never
 * filled; past it the fill can keep the old row until the entry's TTL: the bound the README
 * states, shown here so that it stays true.
 */
const env = useTestEnv('sqlite')

interface Isolate {
  payload: Payload
  cache: KVCacheHandle
}

const SKEWED_BY = { withinTheAllowance: 500, pastIt: 2500 } as const

describe('the member race between isolates whose clocks disagree', () => {
  let database: Database
  let plain: Payload
  const started: Isolate[] = []
  /** Isolates whose background work never finishes (a dropped trailing put): closed, not settled. */
  const dropped: Isolate[] = []

  beforeAll(async () => {
    database = await env.newDatabase()
    plain = await startPayload(database.adapter())
  })

  afterAll(async () => {
    for (const isolate of started) {
      await isolate.cache.settled()
      await closePayload(isolate.payload)
    }
    for (const isolate of dropped) await closePayload(isolate.payload)
    await closePayload(plain)
  })

  const start = async (prefix: string, clock: KVCacheClock): Promise<Isolate> => {
    const wrapped = withKVCache(database.adapter(), withTestHooks({ kv: env.kv(), prefix }, { clock }))
    const isolate = { payload: await startPayload(wrapped), cache: wrapped.kvCache }
    started.push(isolate)
    return isolate
  }

  const behind = (ms: number): KVCacheClock => ({
    now: () => Date.now() - ms,
    sleep: (wait) => new Promise((resolve) => setTimeout(resolve, wait)),
  })

  for (const [name, skew] of Object.entries(SKEWED_BY)) {
    it(`the writer's clock ${skew} ms behind the reader's: ${name === 'withinTheAllowance' ? 'the old row is never served' : 'the old row is filled and served (the stated limit)'}`, async () => {
      const prefix = `skew${skew}${Date.now().toString(36)}`
      const reader = await start(prefix, behind(0))
      const writer = await start(prefix, behind(skew))
      if (name === 'withinTheAllowance') await seed(reader.payload)
      await reader.cache.settled()
      const read = (p: Payload) =>
        p.find({ collection: 'posts', depth: 0, limit: 4, sort: 'publishedOn', where: { views: { less_than: 100 } } })
      const member = (await read(plain)).docs[0]!.id
      const body = `Written elsewhere mid-read, ${skew} ms behind`
      // The reader's query has answered; the writer edits a member and its stamp lands before the fill.
      const hold = holdNextFind(reader.payload, async () => {
        await writer.payload.update({ collection: 'posts', id: member, data: { body } })
        await writer.cache.settled()
      })
      try {
        await read(reader.payload)
        expect(hold.ran()).toBe(true)
        await reader.cache.settled()
      } finally {
        hold.restore()
      }
      const served = await read(reader.payload)
      if (name === 'withinTheAllowance') expect(served).toStrictEqual(await read(plain))
      else {
        expect(served.docs[0]!.body).not.toBe(body)
        expect((await read(plain)).docs[0]!.body).toBe(body)
      }
    })
  }

  /*
   * A write on another isolate's burst horizon has no token of its own until the burst's
   * trailing put. With that isolate's clock behind ours (within the allowance), its burst token
   * can look more than a second older than a query that reads the row before such a write: the
   * member's token then says nothing about the write, and only the open horizon keeps the old
   * row out of KV. Kept out, nothing is stored under the burst token, so even a trailing put
   * dropped with its request (waitUntil past its limit) costs hits until the horizon's time,
   * never the write.
   */
  it('a member written on the writer’s burst horizon (its clock 900 ms behind) while the page is read: not filled under the horizon, so the write is seen even when the put that would close the burst is dropped', async () => {
    const clock = new ManualClock(Date.now())
    const prefix = `skewburst${Date.now().toString(36)}`
    const reader = await start(prefix, clock)
    const writer = await start(prefix, { now: () => clock.now() - 900, sleep: clock.sleep })
    // Its trailing put is dropped below and never finishes: not settled before it is closed.
    dropped.push(...started.splice(started.indexOf(writer), 1))
    if ((await plain.count({ collection: 'posts' })).totalDocs === 0) await seed(plain)
    const read = (p: Payload) =>
      p.find({ collection: 'posts', depth: 0, limit: 4, sort: 'publishedOn', where: { views: { less_than: 200 } } })
    const member = (await read(plain)).docs[1]!.id
    const edit = (body: string) => clock.waitFor(writer.payload.db.updateOne({ collection: 'posts', id: member, data: { body }, req: {} }))
    // Three bumps of the member's stamp within the writer's second: the third takes its last
    // slot, so its token carries a burst horizon; the trailing put sleeps until a slot frees.
    for (let i = 1; i <= 3; i++) await edit(`Burst ${i}`)
    // 200 ms on: the burst token (900 ms behind) is past the skew allowance for a query started now.
    await clock.advance(200)
    const skipsBefore = reader.cache.breakdown().totals.fillSkipsRace
    const hold = holdNextFind(reader.payload, async () => {
      await clock.advance(100)
      // No slot is free yet: the write returns on the horizon, with no token of its own.
      await edit('Written on the horizon')
    })
    try {
      expect((await read(reader.payload)).docs[1]!.body).toBe('Burst 3')
      expect(hold.ran()).toBe(true)
      await reader.cache.settled()
    } finally {
      hold.restore()
    }
    // The writer's request ends and takes its trailing put with it; the horizon runs out.
    clock.cancelSleepers()
    await clock.advance(20_000)
    const truth = await read(plain)
    expect(truth.docs[1]!.body).toBe('Written on the horizon')
    expect(await read(reader.payload)).toStrictEqual(truth)
    // Fresh because the held read's fill was skipped, not for want of a fill.
    expect(reader.cache.breakdown().totals.fillSkipsRace).toBeGreaterThan(skipsBefore)
  })
})
