import { beforeAll, describe, expect, it } from '@jest/globals'
import type { Payload } from 'payload'
import type { Pair } from '../support/app.js'
import type { TestEnv } from '../support/env.js'
import type { Seed } from '../support/seed.js'
import { seed } from '../support/seed.js'

/** Draft, autosave and publish, as every kind of read sees them. */
export function draftSuite(env: TestEnv): void {
  describe('drafts and versions', () => {
    let pair: Pair
    let data: Seed

    beforeAll(async () => {
      pair = await env.newPair()
      data = await seed(pair.cached)
    })

    const views = (id: number | string): Array<[string, (p: Payload) => Promise<unknown>]> => [
      ['published find', (p) => p.find({ collection: 'posts', depth: 0, where: { id: { equals: id } } })],
      ['published findByID', (p) => p.findByID({ collection: 'posts', id, depth: 0 })],
      ['draft find (queryDrafts)', (p) => p.find({ collection: 'posts', depth: 0, draft: true, where: { id: { equals: id } } })],
      ['draft findByID', (p) => p.findByID({ collection: 'posts', id, depth: 0, draft: true })],
      ['findVersions', (p) => p.findVersions({ collection: 'posts', depth: 0, where: { parent: { equals: id } }, sort: '-updatedAt' })],
      ['countVersions', (p) => p.countVersions({ collection: 'posts', where: { parent: { equals: id } } })],
      ['count published', (p) => p.count({ collection: 'posts', where: { _status: { equals: 'published' } } })],
    ]

    /** Every view, twice through the cache (the second a hit), equals the database. */
    async function expectAllViewsFresh(id: number | string): Promise<Record<string, unknown>> {
      const seen: Record<string, unknown> = {}
      for (const [name, read] of views(id)) {
        const truth = await read(pair.plain)
        const first = await read(pair.cached)
        await pair.cache.settled()
        const second = await read(pair.cached)
        expect([name, first]).toStrictEqual([name, truth])
        expect([name, second]).toStrictEqual([name, truth])
        seen[name] = truth
      }
      return seen
    }

    it('saving a draft, autosaving and publishing are each seen as Payload sees them uncached', async () => {
      const id = data.posts[0]!.id
      const start = await expectAllViewsFresh(id)
      expect((start['published findByID'] as { title: string }).title).toBe('Post 0')

      await pair.cached.update({ collection: 'posts', id, draft: true, data: { title: 'Draft title' } })
      const drafted = await expectAllViewsFresh(id)
      expect((drafted['published findByID'] as { title: string }).title).toBe('Post 0')
      expect((drafted['draft findByID'] as { title: string }).title).toBe('Draft title')

      await pair.cached.update({ collection: 'posts', id, draft: true, autosave: true, data: { title: 'Autosaved 1' } })
      await expectAllViewsFresh(id)
      await pair.cached.update({ collection: 'posts', id, draft: true, autosave: true, data: { title: 'Autosaved 2' } })
      const autosaved = await expectAllViewsFresh(id)
      expect((autosaved['draft findByID'] as { title: string }).title).toBe('Autosaved 2')
      expect((autosaved['published findByID'] as { title: string }).title).toBe('Post 0')

      await pair.cached.update({ collection: 'posts', id, data: { title: 'Published title', _status: 'published' } })
      const published = await expectAllViewsFresh(id)
      expect((published['published findByID'] as { title: string }).title).toBe('Published title')
    })

    it('a global draft and publish are seen by findGlobal and its versions', async () => {
      const reads: Array<(p: Payload) => Promise<unknown>> = [
        (p) => p.findGlobal({ slug: 'settings', depth: 0 }),
        (p) => p.findGlobal({ slug: 'settings', depth: 0, draft: true }),
        (p) => p.findGlobalVersions({ slug: 'settings', depth: 0, sort: '-updatedAt' }),
        (p) => p.countGlobalVersions({ global: 'settings' }),
      ]
      const check = async () => {
        for (const read of reads) {
          await read(pair.cached)
          await pair.cache.settled()
          expect(await read(pair.cached)).toStrictEqual(await read(pair.plain))
        }
      }
      await check()
      await pair.cached.updateGlobal({ slug: 'settings', draft: true, data: { siteName: 'Global draft' } })
      await check()
      expect((await pair.cached.findGlobal({ slug: 'settings', draft: true })).siteName).toBe('Global draft')
      await pair.cached.updateGlobal({ slug: 'settings', data: { siteName: 'Global live', _status: 'published' } })
      await check()
      expect((await pair.cached.findGlobal({ slug: 'settings' })).siteName).toBe('Global live')
    })
  })
}
