import { beforeAll, describe, expect, it } from '@jest/globals'
import type { Payload } from 'payload'
import type { Pair } from './support/app.js'
import { useTestEnv } from './support/env.js'
import type { NotesPair } from './support/inspect.js'
import { delta, emptyCache, useNotesPair } from './support/inspect.js'
import type { CallLog } from './support/spy.js'

/** Per-request control: `req.context.kvCache` and `kvCache.run()`, bypass and refresh. */
const env = useTestEnv('sqlite')

describe('per-request control', () => {
  const fixture = useNotesPair(env, 'control')
  let pair: Pair
  let log: CallLog
  let notes: NotesPair['notes']

  beforeAll(() => {
    pair = fixture.pair
    log = fixture.log
    notes = fixture.notes
  })

  it('req.context.kvCache.bypass through the Local API context reaches the database every time and fills nothing', async () => {
    await emptyCache(pair)
    log.reset()
    const before = pair.cache.stats()
    const bypassed = () => pair.cached.find({ collection: 'notes', sort: 'text', context: { kvCache: { bypass: true } } })
    const first = await bypassed()
    await pair.cache.settled()
    const second = await bypassed()
    await pair.cache.settled()
    expect(log.reads).toEqual(['find:notes', 'find:notes'])
    expect(delta(before, pair.cache.stats())).toEqual({ bypasses: 2 })
    // nothing was filled: the same read without bypass is a miss, then a hit
    log.reset()
    const plainRead = () => pair.cached.find({ collection: 'notes', sort: 'text' })
    await plainRead()
    await pair.cache.settled()
    await plainRead()
    expect(log.reads).toEqual(['find:notes'])
    const truth = await pair.plain.find({ collection: 'notes', sort: 'text' })
    expect(first).toStrictEqual(truth)
    expect(second).toStrictEqual(truth)
  })

  it('refresh: true skips the lookup but refills the entry', async () => {
    const note = notes[0]!
    const read = (p: Payload, context?: Record<string, unknown>) =>
      p.find({ collection: 'notes', where: { id: { equals: note.id } }, context })
    await emptyCache(pair)
    await read(pair.cached)
    await pair.cache.settled()
    // A change the cache cannot know of (made by a Payload without the wrapper).
    await pair.plain.update({ collection: 'notes', id: note.id, data: { text: 'alpha-changed' } })
    log.reset()
    const cached = await read(pair.cached)
    expect(log.reads).toEqual([])
    expect(cached.docs[0]!.text).toBe(note.text)

    const refreshed = await read(pair.cached, { kvCache: { refresh: true } })
    expect(log.reads).toEqual(['find:notes'])
    expect(refreshed.docs[0]!.text).toBe('alpha-changed')
    await pair.cache.settled()

    log.reset()
    const after = await read(pair.cached)
    expect(log.reads).toEqual([])
    expect(after).toStrictEqual(await read(pair.plain))
    expect(after.docs[0]!.text).toBe('alpha-changed')
    note.text = 'alpha-changed'
  })

  it('kvCache.run({ bypass: true }) reaches findByID, whose adapter call carries no context', async () => {
    const id = notes[1]!.id
    const read = () => pair.cached.findByID({ collection: 'notes', id })
    await emptyCache(pair)
    log.reset()
    await read()
    await pair.cache.settled()
    await read()
    expect(log.reads).toEqual(['findOne:notes'])

    log.reset()
    const before = pair.cache.stats()
    const inside = await pair.cache.run({ bypass: true }, () => read())
    const again = await pair.cache.run({ bypass: true }, async () => {
      await Promise.resolve()
      return read()
    })
    expect(log.reads).toEqual(['findOne:notes', 'findOne:notes'])
    expect(delta(before, pair.cache.stats())).toEqual({ bypasses: 2 })
    // outside run() the entry is still served
    log.reset()
    await read()
    expect(log.reads).toEqual([])
    const truth = await pair.plain.findByID({ collection: 'notes', id })
    expect(inside).toStrictEqual(truth)
    expect(again).toStrictEqual(truth)
  })

  it('kvCache.run({ refresh: true }) refills findByID', async () => {
    const note = notes[2]!
    const read = (p: Payload) => p.findByID({ collection: 'notes', id: note.id })
    await emptyCache(pair)
    await read(pair.cached)
    await pair.cache.settled()
    await pair.plain.update({ collection: 'notes', id: note.id, data: { text: 'gamma-changed' } })
    log.reset()
    expect((await read(pair.cached)).text).toBe(note.text)
    expect((await pair.cache.run({ refresh: true }, () => read(pair.cached))).text).toBe('gamma-changed')
    await pair.cache.settled()
    expect((await read(pair.cached)).text).toBe('gamma-changed')
    expect(log.reads).toEqual(['findOne:notes'])
    note.text = 'gamma-changed'
  })
})
