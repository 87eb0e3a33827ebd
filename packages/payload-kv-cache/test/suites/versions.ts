import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { closePayload } from '@pkc/testkit'
import type { Payload } from 'payload'
import type { KVCacheHandle } from '../../src/index.js'
import { withKVCache } from '../../src/index.js'
import type { Pair } from '../support/app.js'
import { startPayload } from '../support/app.js'
import type { TestEnv } from '../support/env.js'
import { holdNextFind } from '../support/hold.js'
import type { Seed } from '../support/seed.js'
import { seed } from '../support/seed.js'
import type { CallLog } from '../support/spy.js'
import { readUntilHit, spyOnDatabase } from '../support/spy.js'

type ID = number | string
type Read = (p: Payload) => Promise<unknown>
type Named = Array<[string, Read]>

let prefixes = 0

/** A read that may throw (a deleted document's `findByID`): its error, as the uncached Payload's. */
const settledRead =
  (read: Read): Read =>
  (p) =>
    read(p).catch((error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }))

/**
 * What Payload's admin and Local API read of one document's versions: the version history,
 * the version count, a draft `find` by id (`queryDrafts`, its `id` turned into `parent`), a
 * draft `findByID` (the main row, then the latest draft beside `version._status` and an `or`),
 * the latest draft with a condition beside `parent`, and the autosaves in one locale.
 */
function versionReads(id: ID): Named {
  return [
    [
      'version history (findVersions)',
      (p) => p.findVersions({ collection: 'posts', depth: 0, where: { parent: { equals: id } }, sort: '-updatedAt', limit: 10 }),
    ],
    ['countVersions', (p) => p.countVersions({ collection: 'posts', where: { parent: { equals: id } } })],
    ['draft find by id (queryDrafts)', (p) => p.find({ collection: 'posts', depth: 0, draft: true, where: { id: { equals: id } } })],
    ['draft findByID (findOne, then findVersions)', settledRead((p) => p.findByID({ collection: 'posts', id, depth: 0, draft: true }))],
    [
      'the latest draft beside a condition (and)',
      (p) =>
        p.findVersions({
          collection: 'posts',
          depth: 0,
          limit: 1,
          sort: '-updatedAt',
          where: { and: [{ parent: { equals: id } }, { 'version._status': { equals: 'draft' } }] },
        }),
    ],
    [
      'autosaves in German (a condition beside parent)',
      (p) =>
        p.findVersions({
          collection: 'posts',
          depth: 0,
          locale: 'de',
          limit: 5,
          sort: '-updatedAt',
          where: { parent: { equals: id }, autosave: { equals: true } },
        }),
    ],
  ]
}

/**
 * Versions reads pinned to one document (issue 22 item 3; README, *What a versions read
 * depends on*): another document's saves leave them served from KV, every write that changes
 * that document's versions rows is seen at once. Hits are counted through the database spy,
 * results compared with the uncached Payload.
 */
export function versionSuite(env: TestEnv): void {
  describe('versions reads pinned to a document', () => {
    let pair: Pair
    let data: Seed
    let log: CallLog

    beforeAll(async () => {
      pair = await env.newPair({ transactions: env.kind === 'sqlite' ? true : undefined })
      data = await seed(pair.cached)
      log = spyOnDatabase(pair.cached)
    })

    const post = (i: number) => data.posts[i]!.id
    const precise = () => pair.cache.breakdown().totals.versionsPrecise

    /** Each read until it is a hit; what each returned. */
    async function warmAll(reads: Named): Promise<unknown[]> {
      const out: unknown[] = []
      for (const [, read] of reads) out.push(await readUntilHit(pair, log, read))
      return out
    }

    /** After a write they do not depend on: each served from KV, unchanged, and what the database says. */
    async function expectServed(reads: Named, before: unknown[]): Promise<void> {
      await pair.cache.settled()
      for (const [i, [name, read]] of reads.entries()) {
        log.reset()
        const after = await read(pair.cached)
        expect([name, log.reads]).toStrictEqual([name, []])
        expect([name, after]).toStrictEqual([name, before[i]])
        expect([name, after]).toStrictEqual([name, await read(pair.plain)])
      }
    }

    /** After a write they depend on: what the database says now, which the write changed. */
    async function expectFresh(reads: Named, before: unknown[]): Promise<unknown[]> {
      await pair.cache.settled()
      const after: unknown[] = []
      for (const [name, read] of reads) {
        const seen = await read(pair.cached)
        expect([name, seen]).toStrictEqual([name, await read(pair.plain)])
        after.push(seen)
      }
      // Else the test could not tell a stale entry from a fresh one.
      expect(after).not.toStrictEqual(before)
      return after
    }

    /** Warms the reads, runs the write, and expects each read to see it. */
    async function seen(reads: Named, write: () => Promise<unknown>): Promise<unknown[]> {
      const before = await warmAll(reads)
      await write()
      return expectFresh(reads, before)
    }

    it('a draft save, autosaves and a publish of one post leave another post’s versions reads served from KV', async () => {
      const [a, b] = [post(1), post(2)]
      const reads: Named = [
        ...versionReads(b),
        [
          'draft population (queryDrafts, parent in)',
          (p) => p.find({ collection: 'posts', depth: 0, draft: true, pagination: false, where: { id: { in: [b, post(3)] } } }),
        ],
      ]
      const before = precise()
      const warmed = await warmAll(reads)
      expect(precise()).toBeGreaterThan(before)
      await pair.cached.update({ collection: 'posts', id: a, draft: true, data: { title: 'A draft' } })
      await expectServed(reads, warmed)
      await pair.cached.update({ collection: 'posts', id: a, draft: true, autosave: true, data: { title: 'A autosaved' } })
      await expectServed(reads, warmed)
      // Updates the autosave in place (updateVersion).
      await pair.cached.update({ collection: 'posts', id: a, draft: true, autosave: true, data: { title: 'A autosaved again' } })
      await expectServed(reads, warmed)
      await pair.cached.update({ collection: 'posts', id: a, data: { title: 'A published', _status: 'published' } })
      await expectServed(reads, warmed)
      // The save was seen where it should be.
      expect((await pair.cached.findByID({ collection: 'posts', id: a, depth: 0 })).title).toBe('A published')
    })

    it('a post’s own versions reads see each of its saves at once: a draft, an autosave, an autosave in place, a publish, a restored version', async () => {
      const a = post(4)
      const reads = versionReads(a)
      await seen(reads, () => pair.cached.update({ collection: 'posts', id: a, draft: true, data: { title: 'Own draft' } }))
      await seen(reads, () =>
        pair.cached.update({ collection: 'posts', id: a, draft: true, autosave: true, data: { title: 'Own autosave' } }),
      )
      await seen(reads, () =>
        pair.cached.update({ collection: 'posts', id: a, draft: true, autosave: true, data: { title: 'Own autosave, in place' } }),
      )
      await seen(reads, () => pair.cached.update({ collection: 'posts', id: a, data: { title: 'Own publish', _status: 'published' } }))
      const oldest = (
        await pair.plain.findVersions({ collection: 'posts', depth: 0, where: { parent: { equals: a } }, sort: 'createdAt', limit: 1 })
      ).docs[0]!
      await seen(reads, () => pair.cached.restoreVersion({ collection: 'posts', id: String(oldest.id), depth: 0 }))
      expect((await pair.cached.findByID({ collection: 'posts', id: a, depth: 0, draft: true })).title).toBe(oldest.version.title)
    })

    it('pruning past maxPerDoc (20) is seen, and so is a deleteVersions of the post’s oldest versions alone', async () => {
      const a = post(5)
      const reads = versionReads(a)
      const count = async () => (await pair.plain.countVersions({ collection: 'posts', where: { parent: { equals: a } } })).totalDocs
      for (let i = 0; (await count()) < 20; i++)
        await pair.cached.update({ collection: 'posts', id: a, draft: true, data: { title: `Filling ${i}` } })
      const oldest = (p: Payload) =>
        p.findVersions({ collection: 'posts', depth: 0, where: { parent: { equals: a } }, sort: 'updatedAt', limit: 2 })
      const pruning: Named = [...reads, ['the oldest versions', oldest]]
      await seen(pruning, () => pair.cached.update({ collection: 'posts', id: a, draft: true, data: { title: 'One past the limit' } }))
      expect(await count()).toBe(20)
      // As enforceMaxVersions asks, straight to the adapter: the version writes of a save
      // cannot hide one another.
      const { docs } = await pair.plain.findVersions({
        collection: 'posts',
        depth: 0,
        where: { parent: { equals: a } },
        sort: 'updatedAt',
        limit: 3,
      })
      await seen(pruning, () =>
        pair.cached.db.deleteVersions({
          collection: 'posts',
          where: { parent: { equals: a }, updatedAt: { less_than_equal: docs[2]!.updatedAt } },
          req: {},
        }),
      )
      expect(await count()).toBe(17)
    })

    it('version writes that name no parent, a version moved to another post, and a change made outside Payload then invalidated are seen', async () => {
      const [a, c] = [post(6), post(7)]
      const reads = [...versionReads(a), ...versionReads(c)]
      await pair.cached.update({ collection: 'posts', id: a, draft: true, data: { title: 'Doomed draft' } })
      // No parent in its where: every post's versions reads.
      await seen(reads, () =>
        pair.cached.db.deleteVersions({
          collection: 'posts',
          locale: 'en',
          where: { 'version.title': { equals: 'Doomed draft' } },
          req: {},
        }),
      )
      // A version moved from one post to another: both posts' versions change.
      const moved = (
        await pair.plain.findVersions({ collection: 'posts', depth: 0, where: { parent: { equals: a } }, sort: '-updatedAt', limit: 1 })
      ).docs[0]!
      await seen(reads, () =>
        pair.cached.db.updateVersion({ collection: 'posts', id: moved.id, versionData: { parent: c } as never, req: {} }),
      )
      // A version edited without naming its parent: the parent it returns.
      await seen(reads, () =>
        pair.cached.db.updateVersion({
          collection: 'posts',
          id: moved.id,
          versionData: { version: { ...moved.version, body: 'Edited in place' } },
          req: {},
        }),
      )
      // Written where the cache cannot see it, then invalidated by hand.
      await seen(reads, async () => {
        await pair.plain.db.updateVersion({
          collection: 'posts',
          id: moved.id,
          versionData: { parent: c, version: { ...moved.version, title: 'Written outside the cache' } },
          req: {},
        })
        await pair.cache.invalidate({ collections: ['posts'] })
      })
    })

    it('an updateVersion whose result names no parent (`returning: false`, a `select` that leaves `parent` out) is seen by the parent’s versions reads', async () => {
      const a = post(6)
      const reads = versionReads(a)
      const latest = async () =>
        (await pair.plain.findVersions({ collection: 'posts', depth: 0, where: { parent: { equals: a } }, sort: '-updatedAt', limit: 1 }))
          .docs[0]!
      // The version is named by id alone, and the write returns nothing to name its parent by:
      // the versions bulk stamp, which every versions read checks.
      let version = await latest()
      await seen(reads, () =>
        pair.cached.db.updateVersion({
          collection: 'posts',
          id: version.id,
          versionData: { version: { ...version.version, body: 'Edited, nothing returned' } },
          returning: false,
          req: {},
        }),
      )
      version = await latest()
      await seen(reads, () =>
        pair.cached.db.updateVersion({
          collection: 'posts',
          id: version.id,
          versionData: { version: { ...version.version, body: 'Edited, parent not selected' } },
          select: { version: { title: true } },
          req: {},
        }),
      )
    })

    it('deletes of posts are seen by their versions reads: Payload’s delete, and on SQL a deleteOne or deleteMany alone (foreign keys) and a delete of an author their versions name', async () => {
      const author = await pair.cached.create({ collection: 'authors', data: { name: 'Short-lived' } })
      const create = async (title: string) => {
        const doc = await pair.cached.create({ collection: 'posts', data: { title, author: author.id, _status: 'published' } })
        await pair.cached.update({ collection: 'posts', id: doc.id, draft: true, data: { title: `${title}, draft` } })
        return doc.id
      }
      const [byPayload, byDeleteOne, byDeleteMany, byAuthor] = [
        await create('Deleted by Payload'),
        await create('Deleted by deleteOne'),
        await create('Deleted by deleteMany'),
        await create('Its author deleted'),
      ]
      await seen(versionReads(byPayload), () => pair.cached.delete({ collection: 'posts', id: byPayload }))
      // The adapter alone: on SQL its versions' parent becomes null; on MongoDB they stay.
      const check = env.kind === 'mongodb' ? expectServedOrSame : seen
      await check(versionReads(byDeleteOne), () =>
        pair.cached.db.deleteOne({ collection: 'posts', where: { id: { equals: byDeleteOne } }, req: {} }),
      )
      await check(versionReads(byDeleteMany), () =>
        pair.cached.db.deleteMany({ collection: 'posts', where: { id: { equals: byDeleteMany } }, req: {} }),
      )
      await check(versionReads(byAuthor).slice(0, 1), () => pair.cached.delete({ collection: 'authors', id: author.id }))
    })

    /** MongoDB has no foreign keys: the write changes none of these reads, which must still equal the database. */
    async function expectServedOrSame(reads: Named, write: () => Promise<unknown>): Promise<void> {
      await warmAll(reads)
      await write()
      await pair.cache.settled()
      for (const [name, read] of reads) expect([name, await read(pair.cached)]).toStrictEqual([name, await read(pair.plain)])
    }

    it('reads without a parent, by version id, or through the parent’s own row keep to the collection stamp', async () => {
      const a = post(0)
      const { docs } = await pair.plain.findVersions({ collection: 'posts', depth: 0, where: { parent: { equals: a } }, limit: 1 })
      const reads: Named = [
        ['every version', (p) => p.findVersions({ collection: 'posts', depth: 0, limit: 5, sort: '-updatedAt' })],
        ['by version id', (p) => p.findVersionByID({ collection: 'posts', id: String(docs[0]!.id), depth: 0 })],
        [
          'through the parent’s row',
          (p) =>
            p.db.findVersions({
              collection: 'posts',
              locale: 'en',
              where: { 'parent.title': { like: 'Post' } },
              limit: 5,
              sort: '-updatedAt',
              req: {},
            }),
        ],
      ]
      // A number id as text (REST's spelling): no versions stamp names it.
      if (typeof a === 'number')
        reads.push(['a parent as text', (p) => p.countVersions({ collection: 'posts', where: { parent: { equals: String(a) } } })])
      const before = precise()
      await warmAll(reads)
      expect(precise()).toBe(before)
      // Any save of any post is seen by them.
      await seen(reads.slice(0, 3), () =>
        pair.cached.update({ collection: 'posts', id: post(3), draft: true, data: { title: 'Seen by all' } }),
      )
    })

    it('a read pinned to a parent that also reads the parent’s main row (`parent.body`) sees an edit of that row alone', async () => {
      const { id: a } = await pair.cached.create({
        collection: 'posts',
        data: { title: 'Read through', body: 'Main row', _status: 'published' },
      })
      const read = (p: Payload) =>
        p.db.findVersions({
          collection: 'posts',
          where: { parent: { equals: a }, 'parent.body': { equals: 'Main row rewritten' } },
          limit: 5,
          sort: '-updatedAt',
          req: {},
        })
      const before = precise()
      const [found] = (await seen([['pinned, through the parent’s row', read]], () =>
        // The main row only: no version written.
        pair.cached.db.updateOne({ collection: 'posts', id: a, data: { body: 'Main row rewritten' }, req: {} }),
      )) as Array<{ docs: unknown[] }>
      expect(found!.docs.length).toBeGreaterThan(0)
      expect(precise()).toBe(before)
    })

    it('a save’s own reads of the latest version (inside its write) go to the database and are not filled', async () => {
      await pair.cache.settled()
      const posts = () => pair.cache.breakdown().byScope['c:posts'] ?? {}
      const versions = () => pair.cache.breakdown().byOperation.findVersions ?? {}
      const [fills, bypassed] = [posts().fills ?? 0, versions().bypassesTransaction ?? 0]
      await pair.cached.update({ collection: 'posts', id: post(1), draft: true, autosave: true, depth: 0, data: { title: 'Not filled' } })
      await pair.cache.settled()
      expect(posts().fills ?? 0).toBe(fills)
      expect(versions().bypassesTransaction ?? 0).toBeGreaterThan(bypassed)
    })

    describe('two isolates', () => {
      let a: { payload: Payload; cache: KVCacheHandle }
      let b: { payload: Payload; cache: KVCacheHandle }
      let plain: Payload
      let posts: ID[]
      const others: Array<{ payload: Payload; cache: KVCacheHandle }> = []

      beforeAll(async () => {
        const database = await env.newDatabase()
        const prefix = `versions${prefixes++}${Date.now().toString(36)}`
        const start = async () => {
          const wrapped = withKVCache(database.adapter(), { kv: env.kv(), prefix })
          return { payload: await startPayload(wrapped), cache: wrapped.kvCache }
        }
        a = await start()
        b = await start()
        plain = await startPayload(database.adapter())
        // Deploys sharing the KV whose read options differ (README, Across deploys): what
        // their writes bump is the schema's to say.
        for (const options of [{ collections: { posts: false } }, { documentStamps: false, listPrecision: false }] as const) {
          const wrapped = withKVCache(database.adapter(), { kv: env.kv(), prefix, ...options })
          others.push({ payload: await startPayload(wrapped), cache: wrapped.kvCache })
        }
        posts = (await seed(a.payload)).posts.map((doc) => doc.id)
        await a.cache.settled()
      })

      afterAll(async () => {
        await a.cache.settled()
        await b.cache.settled()
        await closePayload(a.payload)
        await closePayload(b.payload)
        await closePayload(plain)
        for (const other of others) {
          await other.cache.settled()
          await closePayload(other.payload)
        }
      })

      it('deploys that cache no posts, or read without document stamps, bump what a default deploy’s versions reads depend on', async () => {
        const named = posts[3]!
        const reads = versionReads(named).filter(([name]) => !name.startsWith('draft findByID'))
        for (const [i, other] of others.entries()) {
          const saves = [
            { draft: true, data: { title: `Deploy ${i}: draft` } },
            { draft: true, autosave: true, data: { title: `Deploy ${i}: autosave` } },
            { draft: true, autosave: true, data: { title: `Deploy ${i}: autosave in place` } },
            { data: { title: `Deploy ${i}: published`, _status: 'published' as const } },
          ]
          for (const save of saves) {
            for (const [, read] of reads) await read(b.payload)
            await b.cache.settled()
            await other.payload.update({ collection: 'posts', id: named, ...save })
            await other.cache.settled()
            for (const [name, read] of reads) expect([name, await read(b.payload)]).toStrictEqual([name, await read(plain)])
          }
          expect((await b.payload.findByID({ collection: 'posts', id: named, draft: true, depth: 0 })).title).toBe(`Deploy ${i}: published`)
        }
      })

      it('one isolate’s saves of another post leave the other’s versions reads served; a save of the post is seen; one made while its read is held after the database answered is never served old', async () => {
        const [other, named] = [posts[1]!, posts[2]!]
        const reads = versionReads(named).filter(([name]) => !name.startsWith('draft findByID'))
        const hits = () => b.cache.stats().hits
        const expectAllHit = async () => {
          await b.cache.settled()
          const before = hits()
          for (const [name, read] of reads) expect([name, await read(b.payload)]).toStrictEqual([name, await read(plain)])
          expect(hits()).toBe(before + reads.length)
        }
        for (const [, read] of reads) await read(b.payload)
        await expectAllHit()
        await a.payload.update({ collection: 'posts', id: other, draft: true, data: { title: 'Other draft' } })
        await a.payload.update({ collection: 'posts', id: other, draft: true, autosave: true, data: { title: 'Other autosave' } })
        await a.cache.settled()
        await expectAllHit()
        await a.payload.update({ collection: 'posts', id: named, draft: true, autosave: true, data: { title: 'Named autosave' } })
        await a.cache.settled()
        for (const [name, read] of reads) expect([name, await read(b.payload)]).toStrictEqual([name, await read(plain)])
        await b.cache.settled()
        // Held after the database answered while the other isolate saves a version of the post.
        for (const [operation, title] of [
          ['findVersions', 'Saved while findVersions was held'],
          ['queryDrafts', 'Saved while queryDrafts was held'],
          ['countVersions', 'Saved while countVersions was held'],
        ] as const) {
          // A save first, so that the read below misses.
          await a.payload.update({ collection: 'posts', id: named, draft: true, data: { title: `Before: ${title}` } })
          await a.cache.settled()
          await b.cache.settled()
          const hold = holdNextFind(
            b.payload,
            async () => {
              await a.payload.update({ collection: 'posts', id: named, draft: true, data: { title } })
              await a.cache.settled()
            },
            operation,
          )
          try {
            for (const [, read] of reads) await read(b.payload)
            expect(hold.ran()).toBe(true)
            await b.cache.settled()
          } finally {
            hold.restore()
          }
          for (const isolate of [a, b])
            for (const [name, read] of reads) expect([name, await read(isolate.payload)]).toStrictEqual([name, await read(plain)])
          const latest = await b.payload.findVersions({
            collection: 'posts',
            depth: 0,
            where: { parent: { equals: named } },
            sort: '-updatedAt',
            limit: 1,
          })
          expect(latest.docs[0]!.version.title).toBe(title)
        }
      })
    })
  })
}
