import { beforeAll, describe, expect, it } from '@jest/globals'
import type { Payload } from 'payload'
import type { Pair } from '../support/app.js'
import { missingFeatures } from '../support/app.js'
import type { TestEnv } from '../support/env.js'
import { emptyCache } from '../support/inspect.js'
import type { Seed } from '../support/seed.js'
import { seed } from '../support/seed.js'
import type { CallLog } from '../support/spy.js'
import { spyOnDatabase } from '../support/spy.js'

type Read = (payload: Payload, data: Seed) => Promise<unknown>

/** Every read method, through the Local API and straight on the adapter. */
export function readSuite(env: TestEnv): void {
  describe('reads', () => {
    let pair: Pair
    let data: Seed
    let log: CallLog

    beforeAll(async () => {
      pair = await env.newPair()
      data = await seed(pair.cached)
      log = spyOnDatabase(pair.cached)
    })

    const localApi: Array<[string, string, Read]> = [
      ['find', 'find', (p) => p.find({ collection: 'posts', where: { views: { greater_than: 0 } }, sort: '-views', limit: 3 })],
      [
        'find with depth (population through findOne/find of authors)',
        'find',
        (p) => p.find({ collection: 'posts', depth: 2, sort: 'title' }),
      ],
      ['findByID', 'findOne', (p, d) => p.findByID({ collection: 'posts', id: d.posts[1]!.id })],
      ['count', 'count', (p) => p.count({ collection: 'posts', where: { tags: { in: ['news'] } } })],
      ['findDistinct', 'findDistinct', (p) => p.findDistinct({ collection: 'posts', field: 'views', sort: 'views' })],
      ['find with draft: true', 'queryDrafts', (p) => p.find({ collection: 'posts', draft: true, sort: 'title' })],
      [
        'findVersions',
        'findVersions',
        (p, d) => p.findVersions({ collection: 'posts', where: { parent: { equals: d.posts[6]!.id } }, sort: '-updatedAt' }),
      ],
      ['countVersions', 'countVersions', (p) => p.countVersions({ collection: 'posts' })],
      ['findGlobal', 'findGlobal', (p) => p.findGlobal({ slug: 'settings' })],
      ['findGlobal draft', 'findGlobal', (p) => p.findGlobal({ slug: 'settings', draft: true, locale: 'de' })],
      ['findGlobalVersions', 'findGlobalVersions', (p) => p.findGlobalVersions({ slug: 'settings', sort: '-updatedAt' })],
      ['countGlobalVersions', 'countGlobalVersions', (p) => p.countGlobalVersions({ global: 'settings' })],
      [
        'find on a join field',
        'find',
        (p) => p.find({ collection: 'authors', sort: 'name', joins: { posts: { sort: '-views', limit: 5 } } }),
      ],
    ]

    const supported = <T extends [string, ...unknown[]]>(cases: T[]): T[] =>
      missingFeatures(env.kind).findDistinct ? cases.filter((c) => !c.includes('findDistinct')) : cases

    it.each(supported(localApi))('Local API %s: a repeat is served from KV and equals the database', async (_, operation, read) => {
      await emptyCache(pair)
      log.reset()
      const first = await read(pair.cached, data)
      expect(log.reads.some((call) => call.startsWith(`${operation}:`))).toBe(true)
      await pair.cache.settled()
      log.reset()
      const second = await read(pair.cached, data)
      expect(log.reads).toEqual([])
      const truth = await read(pair.plain, data)
      expect(first).toStrictEqual(truth)
      expect(second).toStrictEqual(truth)
    })

    const adapterCalls: Array<[string, (d: Seed) => Record<string, unknown>]> = [
      ['find', () => ({ collection: 'posts', where: { title: { like: 'Post' } }, sort: 'views', limit: 4, page: 2, locale: 'en' })],
      ['find', () => ({ collection: 'posts', select: { title: true, meta: { score: true } }, limit: 0, pagination: false })],
      ['findOne', (d) => ({ collection: 'posts', where: { id: { equals: d.posts[2]!.id } }, locale: 'de' })],
      ['count', () => ({ collection: 'posts', where: { 'meta.score': { greater_than: 2 } } })],
      ['findDistinct', () => ({ collection: 'posts', field: 'author', sort: 'author', limit: 2, page: 1 })],
      ['queryDrafts', () => ({ collection: 'posts', sort: '-createdAt', limit: 5 })],
      ['findVersions', (d) => ({ collection: 'posts', where: { parent: { equals: d.posts[0]!.id } }, limit: 10, sort: '-updatedAt' })],
      ['countVersions', () => ({ collection: 'posts', where: {} })],
      ['findGlobal', () => ({ slug: 'settings', locale: 'de' })],
      ['findGlobalVersions', () => ({ global: 'settings', limit: 5, sort: '-updatedAt' })],
      ['countGlobalVersions', () => ({ global: 'settings' })],
    ]

    it.each(supported(adapterCalls))(
      'adapter %s: the cached result is strictly the inner result (undefined keys, dates, NaN)',
      async (operation, makeArgs) => {
        const call = (p: Payload) => (p.db as unknown as Record<string, (a: unknown) => Promise<unknown>>)[operation]!(makeArgs(data))
        await emptyCache(pair)
        log.reset()
        const miss = await call(pair.cached)
        expect(log.reads).toEqual([expect.stringMatching(new RegExp(`^${operation}:`))])
        await pair.cache.settled()
        log.reset()
        const hit = await call(pair.cached)
        expect(log.reads).toEqual([])
        const truth = await call(pair.plain)
        expect(miss).toStrictEqual(truth)
        expect(hit).toStrictEqual(truth)
      },
    )

    it('hands out a fresh object on every hit', async () => {
      const args = { collection: 'posts', where: { id: { equals: data.posts[0]!.id } } }
      const first = (await pair.cached.db.findOne(args)) as Record<string, unknown>
      await pair.cache.settled()
      const second = (await pair.cached.db.findOne(args)) as Record<string, unknown>
      second.title = 'mutated by a hook'
      ;(second.meta as Record<string, unknown>).score = -1
      const third = (await pair.cached.db.findOne(args)) as Record<string, unknown>
      expect(third).toStrictEqual(first)
      expect(third).not.toBe(second)
    })
  })
}
