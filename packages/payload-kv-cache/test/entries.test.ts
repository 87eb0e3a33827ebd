import { beforeAll, describe, expect, it } from '@jest/globals'
import type { Payload } from 'payload'
import { argumentsDigest, entryKey } from '../src/keys.js'
import type { Pair } from './support/app.js'
import { useTestEnv } from './support/env.js'
import { db, delta, emptyCache, keyNamespace, listAll, useNotesPair } from './support/inspect.js'
import type { CallLog } from './support/spy.js'

/** What an entry holds and what happens when it cannot be read: null results, malformed entries. */
const env = useTestEnv('sqlite')

describe('entries', () => {
  const prefix = 'entries'
  const fixture = useNotesPair(env, prefix)
  let pair: Pair
  let log: CallLog

  beforeAll(() => {
    pair = fixture.pair
    log = fixture.log
  })

  describe('results that are not plain documents', () => {
    it('a findOne that finds nothing is cached as null and served as null', async () => {
      const read = (p: Payload) => db(p).findOne!({ collection: 'notes', where: { text: { equals: 'no such note' } } })
      await emptyCache(pair)
      log.reset()
      const first = await read(pair.cached)
      await pair.cache.settled()
      const second = await read(pair.cached)
      expect(first).toBeNull()
      expect(second).toBeNull()
      expect(log.reads).toEqual(['findOne:notes'])
      // and a write that makes it exist is seen at once
      const created = await pair.cached.create({ collection: 'notes', data: { text: 'no such note' } })
      const third = (await read(pair.cached)) as { id: unknown } | null
      expect(third?.id).toBe(created.id)
      expect(third).toStrictEqual(await read(pair.plain))
      await pair.cached.delete({ collection: 'notes', id: created.id })
      expect(await read(pair.cached)).toBeNull()
    })
  })

  describe('malformed entries', () => {
    it.each([
      ['text that is not JSON', 'garbage'],
      ['an envelope of another format version', JSON.stringify({ v: 999, s: '', f: 0, e: 9e15, d: {} })],
      ['an envelope whose patch list names a path its data lacks', null],
    ])('%s is a miss, answered from the database, and refilled', async (_, garbage) => {
      const read = (p: Payload) => db(p).find!({ collection: 'notes', sort: '-text', limit: 2 })
      await emptyCache(pair)
      await read(pair.cached)
      await pair.cache.settled()
      const keys = await listAll(env.kv(), `${prefix}:c:notes:find:`)
      const key = entryKey(
        prefix,
        'c:notes',
        'find',
        argumentsDigest(keyNamespace(pair), 'find', { collection: 'notes', sort: '-text', limit: 2 }),
      )
      expect(keys).toContain(key)
      let value = garbage
      if (value === null) {
        // A valid envelope, under the current stamps, whose data cannot be decoded.
        const real = JSON.parse((await env.kv().get(key, 'text'))!) as Record<string, unknown>
        // (kind 0 = undefined, drop 0, add 1 segment: 'B' = keys[0])
        value = JSON.stringify({ ...real, d: [{ docs: [] }, [['missing'], 'AABB', []]] })
      }
      await env.kv().put(key, value)

      log.reset()
      const before = pair.cache.stats()
      const result = await read(pair.cached)
      expect(log.reads).toEqual(['find:notes'])
      expect(result).toStrictEqual(await read(pair.plain))
      expect(delta(before, pair.cache.stats())).toMatchObject({ malformed: 1 })
      expect(pair.cache.stats().hits).toBe(before.hits)
      await pair.cache.settled()
      // refilled: the next read is a hit again
      log.reset()
      expect(await read(pair.cached)).toStrictEqual(result)
      expect(log.reads).toEqual([])
      expect(await env.kv().get(key, 'text')).not.toBe(value)
    })
  })
})
