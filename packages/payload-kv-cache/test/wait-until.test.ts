import { beforeAll, describe, expect, it } from '@jest/globals'
import type { Pair } from './support/app.js'
import { useTestEnv } from './support/env.js'
import { delta } from './support/inspect.js'
import type { CallLog } from './support/spy.js'
import { spyOnDatabase } from './support/spy.js'

/** Workers' `waitUntil`: fills and trailing stamp writes handed to it, and what happens when it throws. */
const env = useTestEnv('sqlite')

describe('waitUntil', () => {
  let pair: Pair
  let log: CallLog
  const handed: Promise<unknown>[] = []
  const mode = { throws: false }

  beforeAll(async () => {
    pair = await env.newPair({
      prefix: 'wait-until',
      waitUntil: (promise) => {
        if (mode.throws) throw new Error('waitUntil called outside a request')
        handed.push(promise)
      },
    })
    await pair.cached.create({ collection: 'notes', data: { text: 'waited' } })
    await Promise.all(handed)
    log = spyOnDatabase(pair.cached)
  })

  it('receives each fill; once it settles, the next read is a hit', async () => {
    await pair.cache.invalidateAll()
    await Promise.all(handed)
    handed.length = 0
    log.reset()
    const before = pair.cache.stats()
    const first = await pair.cached.find({ collection: 'notes' })
    expect(handed).toHaveLength(1)
    expect(handed[0]).toBeInstanceOf(Promise)
    await Promise.all(handed)
    expect(delta(before, pair.cache.stats())).toEqual({ misses: 1, fills: 1 })
    const second = await pair.cached.find({ collection: 'notes' })
    expect(log.reads).toEqual(['find:notes'])
    expect(handed).toHaveLength(1)
    expect(second).toStrictEqual(first)
    expect(second).toStrictEqual(await pair.plain.find({ collection: 'notes' }))

    // a second miss hands over a second promise
    await pair.cached.count({ collection: 'notes' })
    expect(handed).toHaveLength(2)
    await Promise.all(handed)
  })

  it('a burst’s trailing stamp write is handed to waitUntil, so it outlives the response', async () => {
    await Promise.all(handed)
    handed.length = 0
    const [note] = (await pair.plain.find({ collection: 'notes', limit: 1 })).docs
    const before = pair.cache.stats()
    const notesStampWrites = () => pair.cache.breakdown().byScope['c:notes']?.stampWrites ?? 0
    const notesBefore = notesStampWrites()
    // Two writes to one collection within KV's one-write-per-second: one stamp write now, one
    // trailing write a second later.
    await pair.cached.update({ collection: 'notes', id: note!.id, data: { text: 'burst 1' } })
    await pair.cached.update({ collection: 'notes', id: note!.id, data: { text: 'burst 2' } })
    expect(handed.length).toBeGreaterThanOrEqual(1)
    // Only what waitUntil holds is awaited: nothing was left for settled() to track.
    await Promise.all(handed)
    expect(pair.cache.footprint().background).toBe(0)
    // The collection's stamp, the document's and the two fields each save changes (`text`,
    // `updatedAt`: list precision), each once now and once trailing; a stamp whose put took its
    // last free slot (a burst) puts one more token, which ends the burst for other isolates. And
    // Payload's clearing of the document's lock at each save (a `deleteMany` of
    // payload-locked-documents, which this deploy does not cache but another may: README, Across
    // deploys), its stamp and bulk stamp, with the same closing puts.
    const notesWrites = notesStampWrites() - notesBefore
    expect(notesWrites).toBeGreaterThanOrEqual(8)
    expect(notesWrites).toBeLessThanOrEqual(16)
    const lockWrites = (delta(before, pair.cache.stats()).stampWrites ?? 0) - notesWrites
    expect(lockWrites).toBeGreaterThanOrEqual(4)
    expect(lockWrites).toBeLessThanOrEqual(8)
    expect(await pair.cached.find({ collection: 'notes' })).toStrictEqual(await pair.plain.find({ collection: 'notes' }))
  })

  it('when waitUntil throws (outside a request), the fill is tracked instead and settled() waits for it', async () => {
    await pair.cache.invalidateAll()
    handed.length = 0
    mode.throws = true
    try {
      log.reset()
      await pair.cached.find({ collection: 'notes', sort: 'text' })
      await pair.cache.settled()
      const second = await pair.cached.find({ collection: 'notes', sort: 'text' })
      expect(log.reads).toEqual(['find:notes'])
      expect(handed).toHaveLength(0)
      expect(second).toStrictEqual(await pair.plain.find({ collection: 'notes', sort: 'text' }))
    } finally {
      mode.throws = false
    }
  })
})
