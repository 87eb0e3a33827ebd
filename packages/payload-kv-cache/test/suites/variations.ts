import { beforeAll, describe, expect, it } from '@jest/globals'
import type { Payload, Where } from 'payload'
import type { Pair } from '../support/app.js'
import type { TestEnv } from '../support/env.js'
import type { Seed } from '../support/seed.js'
import { seed } from '../support/seed.js'
import type { CallLog } from '../support/spy.js'
import { spyOnDatabase } from '../support/spy.js'

/** Arguments that change a result must change the key: no two of these share an entry. */
export function variationSuite(env: TestEnv): void {
  describe('argument variations', () => {
    let pair: Pair
    let data: Seed
    let log: CallLog

    beforeAll(async () => {
      pair = await env.newPair()
      data = await seed(pair.cached)
      log = spyOnDatabase(pair.cached)
    })

    type Args = Parameters<Payload['find']>[0]
    const base: Args = { collection: 'posts', depth: 0, sort: 'title', limit: 3 }
    const where = (w: Where): Args => ({ ...base, where: w })
    const variants: Array<[string, Args]> = [
      ['base', base],
      ['where', where({ views: { greater_than: 1 } })],
      ['where, other value', where({ views: { greater_than: 2 } })],
      ['where, other operator', where({ views: { less_than: 2 } })],
      ['where through a relationship', where({ 'author.name': { equals: 'Ada' } })],
      ['sort', { ...base, sort: '-title' }],
      ['sort, other field', { ...base, sort: 'views' }],
      ['limit', { ...base, limit: 2 }],
      ['page', { ...base, page: 2 }],
      ['select', { ...base, select: { title: true } }],
      ['select, other field', { ...base, select: { views: true } }],
      ['locale', { ...base, locale: 'de' }],
      ['locale all', { ...base, locale: 'all' }],
      ['draft', { ...base, draft: true }],
      ['pagination off', { ...base, pagination: false }],
      ['depth 1', { ...base, depth: 1 }],
    ]

    it('each variation reaches the database once and equals it', async () => {
      await pair.cache.invalidateAll()
      const results = new Map<string, unknown>()
      for (const [name, args] of variants) {
        log.reset()
        const result = await pair.cached.find(args)
        expect([name, log.reads.length > 0]).toEqual([name, true])
        await pair.cache.settled()
        expect([name, result]).toStrictEqual([name, await pair.plain.find(args)])
        results.set(name, result)
      }
      // Ask again, in reverse: every answer comes from its own entry.
      for (const [name, args] of [...variants].reverse()) {
        log.reset()
        const again = await pair.cached.find(args)
        expect([name, log.reads.filter((call) => call.endsWith(':posts'))]).toEqual([name, []])
        expect([name, again]).toStrictEqual([name, results.get(name)])
      }
    })

    it('fallbackLocale is applied by Payload after the read, so it shares the adapter entry and still equals the database', async () => {
      const args: Args = { ...base, locale: 'de', fallbackLocale: false }
      await pair.cached.find({ ...base, locale: 'de' })
      await pair.cache.settled()
      log.reset()
      const result = await pair.cached.find(args)
      expect(log.reads).toEqual([])
      expect(result).toStrictEqual(await pair.plain.find(args))
    })

    it('join arguments are part of the key', async () => {
      const joinArgs = [
        { posts: { limit: 1 } },
        { posts: { limit: 2 } },
        { posts: { sort: '-views' } },
        { posts: { where: { views: { greater_than: 1 } } } },
        false as const,
      ]
      for (const joins of joinArgs) {
        const args = { collection: 'authors' as const, sort: 'name', joins, depth: 0 }
        const first = await pair.cached.find(args)
        await pair.cache.settled()
        const second = await pair.cached.find(args)
        const truth = await pair.plain.find(args)
        expect(first).toStrictEqual(truth)
        expect(second).toStrictEqual(truth)
      }
    })

    it('findByID with different ids, locales and drafts does not share entries', async () => {
      for (const post of data.posts.slice(4)) {
        for (const locale of ['en', 'de'] as const) {
          for (const draft of [false, true]) {
            const args = { collection: 'posts' as const, id: post.id, locale, draft, depth: 0, disableErrors: true }
            const cached = await pair.cached.findByID(args)
            await pair.cache.settled()
            expect(await pair.cached.findByID(args)).toStrictEqual(await pair.plain.findByID(args))
            expect(cached).toStrictEqual(await pair.plain.findByID(args))
          }
        }
      }
    })
  })
}
