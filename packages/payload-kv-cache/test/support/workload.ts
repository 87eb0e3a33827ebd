import { random } from '@pkc/testkit'
import type { Payload, Where } from 'payload'
import type { Seed } from './seed.js'

/** One step of the workload: a write, or a read to run through both Payloads and compare. */
export interface WorkloadOp {
  name: string
  write: boolean
  run: (p: Payload) => Promise<unknown>
}

export interface Workload {
  /** The next operation; the same sequence for the same seed and data. */
  next: () => WorkloadOp
  /** The generator's random source, for runners that draw their own choices from it. */
  rnd: () => number
}

/**
 * The seeded mix of writes and reads the differential and fault suites run: creates, updates
 * (drafts, autosave, locales), deletes, author renames, globals, and finds with varied
 * where/sort/limit/page/locale/draft/depth/select/joins. It runs on the seeded data; the ids it
 * creates join the pools it picks from, so a replay on a fresh database makes the same calls.
 */
export function workload(seedValue: number, data: Seed, options: { findDistinct?: boolean } = {}): Workload {
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
      // Value partitions (invalidation/partitions.ts): an id, spelt as REST passes it too, and an `in` beside a second requirement.
      { author: { equals: pick(authors) } },
      { author: { equals: String(pick(authors)) } },
      { and: [{ author: { in: [pick(authors), pick(authors)] } }, { _status: { equals: 'published' } }] },
    ])

  const ops: Array<[number, () => WorkloadOp]> = [
    // writes
    [
      6,
      () => {
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
      },
    ],
    [
      12,
      () => {
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
      },
    ],
    [
      3,
      () => {
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
      },
    ],
    [
      3,
      () => {
        const id = pick(authors)
        return {
          name: `rename author ${id}`,
          write: true,
          run: (p) => p.update({ collection: 'authors', id, data: { name: pick(['Ada', 'Grace', 'Linus', 'Renamed']) } }),
        }
      },
    ],
    [
      2,
      () => ({
        name: 'create author',
        write: true,
        run: async (p) => {
          authors.push((await p.create({ collection: 'authors', data: { name: `Author ${int(100)}` } })).id)
        },
      }),
    ],
    [
      2,
      () => ({
        name: 'create category',
        write: true,
        run: async (p) => {
          categories.push((await p.create({ collection: 'categories', data: { title: `Cat ${int(100)}` } })).id)
        },
      }),
    ],
    [
      1,
      () => ({
        name: 'delete category',
        write: true,
        run: async (p) => {
          if (categories.length < 3) return
          const id = categories.splice(int(categories.length), 1)[0]!
          await p.delete({ collection: 'categories', id })
        },
      }),
    ],
    [
      3,
      () => ({
        name: 'note create/update/delete',
        write: true,
        run: async (p) => {
          const r = rnd()
          if (r < 0.5 || notes.length === 0) notes.push((await p.create({ collection: 'notes', data: { text: `note ${int(50)}` } })).id)
          else if (r < 0.8) await p.update({ collection: 'notes', id: pick(notes), data: { text: `note ${int(50)}` } })
          else await p.delete({ collection: 'notes', id: notes.splice(int(notes.length), 1)[0]! })
        },
      }),
    ],
    [
      3,
      () => {
        const draft = rnd() < 0.5
        const locale = pick(locales)
        return {
          name: `update global draft=${draft} locale=${locale}`,
          write: true,
          run: (p) =>
            p.updateGlobal({
              slug: 'settings',
              draft,
              locale,
              data: { siteName: `Site ${int(100)}`, featured: pick(posts), ...(draft ? {} : { _status: 'published' as const }) },
            }),
        }
      },
    ],
    // reads
    [
      20,
      () => {
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
      },
    ],
    [
      10,
      () => {
        const args = {
          collection: 'posts' as const,
          id: pick(posts),
          depth: pick([0, 1]),
          draft: rnd() < 0.3,
          locale: pick(locales),
          disableErrors: true,
        }
        return { name: `findByID ${JSON.stringify(args)}`, write: false, run: (p) => p.findByID(args) }
      },
    ],
    [
      5,
      () => {
        const args = { collection: 'posts' as const, where: randomWhere(), locale: pick(locales) }
        return { name: `count ${JSON.stringify(args)}`, write: false, run: (p) => p.count(args) }
      },
    ],
    [
      3,
      () => {
        const args = {
          collection: 'posts' as const,
          field: pick(['views', 'author', 'title'] as const),
          sort: pick(['views', '-views', undefined]),
          where: randomWhere(),
        }
        // An adapter without findDistinct (D1) counts instead, after the same draws.
        if (options.findDistinct === false)
          return { name: `count ${JSON.stringify(args)}`, write: false, run: (p) => p.count({ collection: 'posts', where: args.where }) }
        return { name: `findDistinct ${JSON.stringify(args)}`, write: false, run: (p) => p.findDistinct(args) }
      },
    ],
    [
      4,
      () => {
        const args = {
          collection: 'posts' as const,
          depth: 0,
          where: rnd() < 0.5 ? { parent: { equals: pick(posts) } } : undefined,
          sort: '-updatedAt',
          limit: pick([3, 10]),
        }
        return { name: `findVersions ${JSON.stringify(args)}`, write: false, run: (p) => p.findVersions(args) }
      },
    ],
    [2, () => ({ name: 'countVersions', write: false, run: (p) => p.countVersions({ collection: 'posts' }) })],
    [
      4,
      () => {
        const args = {
          collection: 'authors' as const,
          depth: 0,
          sort: 'name',
          joins: rnd() < 0.7 ? { posts: { limit: pick([2, 10]), sort: pick(['createdAt', '-views']) } } : (false as const),
        }
        return { name: `find authors with joins ${JSON.stringify(args)}`, write: false, run: (p) => p.find(args) }
      },
    ],
    [
      3,
      () => {
        const args = { slug: 'settings' as const, depth: pick([0, 1]), draft: rnd() < 0.4, locale: pick(locales) }
        return { name: `findGlobal ${JSON.stringify(args)}`, write: false, run: (p) => p.findGlobal(args) }
      },
    ],
    [
      2,
      () => ({
        name: 'findGlobalVersions',
        write: false,
        run: (p) => p.findGlobalVersions({ slug: 'settings', depth: 0, sort: '-updatedAt', limit: 5 }),
      }),
    ],
    [1, () => ({ name: 'countGlobalVersions', write: false, run: (p) => p.countGlobalVersions({ global: 'settings' }) })],
    [3, () => ({ name: 'find notes', write: false, run: (p) => p.find({ collection: 'notes', sort: 'text', limit: 100 }) })],
    [2, () => ({ name: 'find categories', write: false, run: (p) => p.find({ collection: 'categories', sort: 'title', depth: 0 }) })],
  ]
  const totalWeight = ops.reduce((sum, [weight]) => sum + weight, 0)
  const next = (): WorkloadOp => {
    let r = rnd() * totalWeight
    for (const [weight, make] of ops) {
      if ((r -= weight) < 0) return make()
    }
    return ops[0]![1]()
  }

  return { next, rnd }
}
