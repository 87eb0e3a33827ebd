import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { closePayload } from '@pkc/testkit'
import type { Payload } from 'payload'
import type { KVCacheHandle } from '../src/index.js'
import { withKVCache } from '../src/index.js'
import type { KVCacheClock } from '../src/internals.js'
import { withTestHooks } from '../src/internals.js'
import type { Database } from './support/app.js'
import { startPayload } from './support/app.js'
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

  beforeAll(async () => {
    database = await env.newDatabase()
    plain = await startPayload(database.adapter())
  })

  afterAll(async () => {
    for (const isolate of started) {
      await isolate.cache.settled()
      await closePayload(isolate.payload)
    }
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
})
