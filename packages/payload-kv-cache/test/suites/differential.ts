import { beforeAll, describe, expect, it } from '@jest/globals'
import type { Payload, Where } from 'payload'
import type { Pair } from '../support/app.js'
import type { TestEnv } from '../support/env.js'
import type { Seed } from '../support/seed.js'
import { seed } from '../support/seed.js'

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function random(seedValue: number): () => number {
  let a = seedValue >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Op = { name: string; run: (p: Payload) => Promise<unknown>; write: boolean }

/**
 * The central assertion: a seeded random sequence of writes and reads through a wrapped and
 * an unwrapped Payload on one database; every read compared strictly. Replay a failure with
 * PKC_SEED=<seed>. With `audit`, every hit is also audited, and the run must end with audits
 * made and none of them a mismatch (an audit that cried wolf would fail it).
 */
export function differentialSuite(env: TestEnv, steps = 500, options: { audit?: boolean; transactions?: boolean } = {}): void {
  describe(`differential${options.audit ? ', every hit audited' : ''}${options.transactions ? ', writes in transactions' : ''}`, () => {
    let pair: Pair
    let data: Seed
    const seedValue = process.env.PKC_SEED ? Number(process.env.PKC_SEED) : Math.floor(Math.random() * 2 ** 31)

    beforeAll(async () => {
      pair = await env.newPair({ ...(options.audit ? { audit: { sampleRate: 1 } } : {}), ...(options.transactions ? { transactions: true } : {}) })
      data = await seed(pair.cached)
    })

    it(`${steps} random operations: every cached read equals the database (seed printed on failure)`, async () => {
      const rnd = random(seedValue)
      const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!
      const int = (max: number) => Math.floor(rnd() * max)
      const posts = [...data.posts.map((p) => p.id)]
      const authors = [...data.authors.map((a) => a.id)]
      const categories = [...data.categories.map((c) => c.id)]
      const notes: Array<number | string> = []
      const locales = ['en', 'de'] as const

      const randomWhere = (): Where | undefined =>
        pick<Where | undefined>([
          undefined,
          { views: { greater_than: int(5) } },
          { views: { less_than_equal: int(5) } },
          { title: { like: pick(['Post', 'Beitrag', 'Edited', '1']) } },
          { 'author.name': { equals: pick(['Ada', 'Grace', 'Linus', 'Renamed']) } },
          { tags: { in: [pick(['news', 'tech', 'life'])] } },
          { or: [{ views: { equals: int(5) } }, { 'meta.score': { greater_than: int(10) } }] },
          { _status: { equals: pick(['draft', 'published']) } },
          { categories: { in: [pick(categories)] } },
        ])

      const ops: Array<[number, () => Op]> = [
        // writes
        [6, () => {
          const draft = rnd() < 0.3
          return {
            name: `create post draft=${draft}`,
            write: true,
            run: async (p) => {
              const doc = await p.create({
                collection: 'posts',
                draft,
                data: {
                  title: `Post n${int(1000)}`,
                  views: int(5),
                  author: rnd() < 0.8 ? pick(authors) : null,
                  categories: rnd() < 0.5 ? [pick(categories)] : [],
                  tags: rnd() < 0.5 ? ['news'] : ['life'],
                  meta: { score: int(20), note: rnd() < 0.5 ? 'n' : null },
                  _status: draft ? 'draft' : 'published',
                },
              })
              posts.push(doc.id)
            },
          }
        }],
        [12, () => {
          const id = pick(posts)
          const draft = rnd() < 0.4
          const locale = pick(locales)
          const autosave = draft && rnd() < 0.5
          return {
            name: `update post ${id} draft=${draft} autosave=${autosave} locale=${locale}`,
            write: true,
            run: (p) =>
              p.update({
                collection: 'posts',
                id,
                draft,
                autosave,
                locale,
                data: {
                  title: `Edited ${int(1000)}`,
                  views: int(5),
                  ...(rnd() < 0.3 ? { author: pick(authors) } : {}),
                  ...(draft ? {} : { _status: 'published' as const }),
                },
              }),
          }
        }],
        [3, () => {
          const id = pick(posts)
          return {
            name: `delete post ${id}`,
            write: true,
            run: async (p) => {
              if (posts.length < 4) return
              posts.splice(posts.indexOf(id), 1)
              await p.delete({ collection: 'posts', id })
            },
          }
        }],
        [3, () => {
          const id = pick(authors)
          return { name: `rename author ${id}`, write: true, run: (p) => p.update({ collection: 'authors', id, data: { name: pick(['Ada', 'Grace', 'Linus', 'Renamed']) } }) }
        }],
        [2, () => ({
          name: 'create author',
          write: true,
          run: async (p) => {
            authors.push((await p.create({ collection: 'authors', data: { name: `Author ${int(100)}` } })).id)
          },
        })],
        [2, () => ({
          name: 'create category',
          write: true,
          run: async (p) => {
            categories.push((await p.create({ collection: 'categories', data: { title: `Cat ${int(100)}` } })).id)
          },
        })],
        [1, () => ({
          name: 'delete category',
          write: true,
          run: async (p) => {
            if (categories.length < 3) return
            const id = categories.splice(int(categories.length), 1)[0]!
            await p.delete({ collection: 'categories', id })
          },
        })],
        [3, () => ({
          name: 'note create/update/delete',
          write: true,
          run: async (p) => {
            const r = rnd()
            if (r < 0.5 || notes.length === 0) notes.push((await p.create({ collection: 'notes', data: { text: `note ${int(50)}` } })).id)
            else if (r < 0.8) await p.update({ collection: 'notes', id: pick(notes), data: { text: `note ${int(50)}` } })
            else await p.delete({ collection: 'notes', id: notes.splice(int(notes.length), 1)[0]! })
          },
        })],
        [3, () => {
          const draft = rnd() < 0.5
          const locale = pick(locales)
          return {
            name: `update global draft=${draft} locale=${locale}`,
            write: true,
            run: (p) =>
              p.updateGlobal({ slug: 'settings', draft, locale, data: { siteName: `Site ${int(100)}`, featured: pick(posts), ...(draft ? {} : { _status: 'published' as const }) } }),
          }
        }],
        // reads
        [20, () => {
          const args = {
            collection: 'posts' as const,
            where: randomWhere(),
            sort: pick(['title', '-title', 'views', '-views', 'createdAt', 'author.name', undefined]),
            limit: pick([2, 5, 10, 0]),
            page: pick([1, 1, 2]),
            locale: pick(['en', 'de', 'all'] as const),
            draft: rnd() < 0.3,
            depth: pick([0, 0, 1]),
            select: rnd() < 0.2 ? ({ title: true, views: true } as const) : undefined,
          }
          return { name: `find posts ${JSON.stringify(args)}`, write: false, run: (p) => p.find(args) }
        }],
        [10, () => {
          const args = { collection: 'posts' as const, id: pick(posts), depth: pick([0, 1]), draft: rnd() < 0.3, locale: pick(locales), disableErrors: true }
          return { name: `findByID ${JSON.stringify(args)}`, write: false, run: (p) => p.findByID(args) }
        }],
        [5, () => {
          const args = { collection: 'posts' as const, where: randomWhere(), locale: pick(locales) }
          return { name: `count ${JSON.stringify(args)}`, write: false, run: (p) => p.count(args) }
        }],
        [3, () => {
          const args = { collection: 'posts' as const, field: pick(['views', 'author', 'title'] as const), sort: pick(['views', '-views', undefined]), where: randomWhere() }
          return { name: `findDistinct ${JSON.stringify(args)}`, write: false, run: (p) => p.findDistinct(args as Parameters<Payload['findDistinct']>[0]) }
        }],
        [4, () => {
          const args = { collection: 'posts' as const, depth: 0, where: rnd() < 0.5 ? { parent: { equals: pick(posts) } } : undefined, sort: '-updatedAt', limit: pick([3, 10]) }
          return { name: `findVersions ${JSON.stringify(args)}`, write: false, run: (p) => p.findVersions(args) }
        }],
        [2, () => ({ name: 'countVersions', write: false, run: (p) => p.countVersions({ collection: 'posts' }) })],
        [4, () => {
          const args = { collection: 'authors' as const, depth: 0, sort: 'name', joins: rnd() < 0.7 ? { posts: { limit: pick([2, 10]), sort: pick(['createdAt', '-views']) } } : (false as const) }
          return { name: `find authors with joins ${JSON.stringify(args)}`, write: false, run: (p) => p.find(args) }
        }],
        [3, () => {
          const args = { slug: 'settings' as const, depth: pick([0, 1]), draft: rnd() < 0.4, locale: pick(locales) }
          return { name: `findGlobal ${JSON.stringify(args)}`, write: false, run: (p) => p.findGlobal(args) }
        }],
        [2, () => ({ name: 'findGlobalVersions', write: false, run: (p) => p.findGlobalVersions({ slug: 'settings', depth: 0, sort: '-updatedAt', limit: 5 }) })],
        [1, () => ({ name: 'countGlobalVersions', write: false, run: (p) => p.countGlobalVersions({ global: 'settings' }) })],
        [3, () => ({ name: 'find notes', write: false, run: (p) => p.find({ collection: 'notes', sort: 'text', limit: 100 }) })],
        [2, () => ({ name: 'find categories', write: false, run: (p) => p.find({ collection: 'categories', sort: 'title', depth: 0 }) })],
      ]
      const totalWeight = ops.reduce((sum, [weight]) => sum + weight, 0)
      const nextOp = (): Op => {
        let r = rnd() * totalWeight
        for (const [weight, make] of ops) {
          if ((r -= weight) < 0) return make()
        }
        return ops[0]![1]()
      }

      let reads = 0
      for (let step = 0; step < steps; step++) {
        const op = nextOp()
        try {
          if (op.write) {
            await op.run(pair.cached)
          } else {
            reads++
            const cached = await op.run(pair.cached)
            const truth = await op.run(pair.plain)
            expect(cached).toStrictEqual(truth)
            // Half the time let fills land before the next step; otherwise they race it.
            if (rnd() < 0.5) await pair.cache.settled()
            const again = await op.run(pair.cached)
            expect(again).toStrictEqual(truth)
          }
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error)
          throw new Error(`differential failed: PKC_SEED=${seedValue} step=${step} op=${op.name}\n${message}`)
        }
      }
      const stats = pair.cache.stats()
      expect(reads).toBeGreaterThan(steps / 3)
      // The cache did work: a run served entirely from the database would prove nothing.
      expect(stats.hits).toBeGreaterThan(reads / 4)
      if (options.audit) {
        await pair.cache.settled()
        const audited = pair.cache.stats()
        expect(audited.auditMismatches).toBe(0)
        expect(audited.auditErrors).toBe(0)
        // Most hits compared, not skipped: writes in between only skip the audits they overlap.
        expect(audited.audits).toBeGreaterThan(audited.hits / 2)
        expect(audited.audits + audited.auditsSkipped).toBe(audited.hits)
      }
    })
  })
}
