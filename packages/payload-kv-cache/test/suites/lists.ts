import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { closePayload } from '@pkc/testkit'
import type { Payload, PayloadRequest, Where } from 'payload'
import { createLocalReq } from 'payload'
import type { KVCacheHandle } from '../../src/index.js'
import { unwrapAdapter, withKVCache } from '../../src/index.js'
import { holdNextFind } from '../support/hold.js'
import type { Pair } from '../support/app.js'
import { missingFeatures, startPayload } from '../support/app.js'
import type { TestEnv } from '../support/env.js'
import type { Seed } from '../support/seed.js'
import { seed } from '../support/seed.js'
import type { CallLog } from '../support/spy.js'
import { readUntilHit, spyOnDatabase } from '../support/spy.js'

let prefixes = 0

/**
 * List precision (issue 13; README, Consistency): a list of a collection's own rows survives
 * an edit that cannot change it, and sees every edit that can. Hits are counted through the
 * database spy (a read that reached the database), results compared with the uncached Payload.
 */
export function listSuite(env: TestEnv): void {
  describe('list precision', () => {
    let pair: Pair
    let data: Seed
    let log: CallLog

    beforeAll(async () => {
      pair = await env.newPair({ transactions: env.kind === 'sqlite' ? true : undefined })
      data = await seed(pair.cached)
      log = spyOnDatabase(pair.cached)
    })

    const post = (i: number) => data.posts[i]!.id
    /** Published posts, newest first, four a page: posts 5, 4, 3, 2 of the seed. */
    const frontPage = (p: Payload) =>
      p.find({ collection: 'posts', depth: 0, limit: 4, sort: '-publishedOn', where: { _status: { equals: 'published' } } })
    const popular = (p: Payload, locale?: 'de') =>
      p.find({ collection: 'posts', depth: 0, limit: 5, sort: 'title', locale, where: { views: { greater_than_equal: 2 } } })
    const published = (p: Payload) => p.count({ collection: 'posts', where: { _status: { equals: 'published' } } })

    const warm = <T>(read: (p: Payload) => Promise<T>): Promise<T> => readUntilHit(pair, log, read)

    /** After an edit the read does not depend on: served from KV, and still what the database says. */
    async function expectServed<T>(read: (p: Payload) => Promise<T>, before: T): Promise<void> {
      await pair.cache.settled()
      log.reset()
      const after = await read(pair.cached)
      expect(log.reads).toEqual([])
      expect(after).toStrictEqual(before)
      expect(after).toStrictEqual(await read(pair.plain))
    }

    /** After an edit the read depends on: what the database says now. */
    async function expectFresh<T>(read: (p: Payload) => Promise<T>): Promise<T> {
      await pair.cache.settled()
      const after = await read(pair.cached)
      expect(after).toStrictEqual(await read(pair.plain))
      return after
    }

    it('a list and a count survive a content edit of a post that is not on the page', async () => {
      const page = await warm(frontPage)
      const count = await warm(published)
      expect(page.docs.map((doc) => doc.id)).not.toContain(post(0))
      await pair.cached.update({ collection: 'posts', id: post(0), data: { body: 'Edited, off the front page' } })
      await expectServed(frontPage, page)
      await expectServed(published, count)
    })

    it('a content edit of a post on the page is seen; the count still survives it', async () => {
      await warm(frontPage)
      const count = await warm(published)
      await pair.cached.update({ collection: 'posts', id: post(3), data: { body: 'Edited on the front page' } })
      const after = await expectFresh(frontPage)
      expect(after.docs.find((doc) => doc.id === post(3))?.body).toBe('Edited on the front page')
      await expectServed(published, count)
    })

    it('an edit that moves a post into a filter is seen, though the post was not on the page', async () => {
      const before = await warm(popular)
      const outsider = data.posts.findIndex((_, i) => i < 6 && !before.docs.some((doc) => doc.id === post(i)))
      expect(outsider).toBeGreaterThanOrEqual(0)
      await pair.cached.update({ collection: 'posts', id: post(outsider), data: { views: 4 } })
      const after = await expectFresh(popular)
      expect(after.docs.map((doc) => doc.id)).toContain(post(outsider))
    })

    it('an edit of a sort field is seen, and so is an edit in another locale of a localized field', async () => {
      await warm(popular)
      await warm((p) => popular(p, 'de'))
      const before = await popular(pair.cached, 'de')
      const member = before.docs[before.docs.length - 1]!.id
      // `title` sorts the list; the German title changes the `de` read's order.
      await pair.cached.update({ collection: 'posts', id: member, locale: 'de', data: { title: 'AAA zuerst' } })
      const german = await expectFresh((p) => popular(p, 'de'))
      expect(german.docs.map((doc) => doc.id)).not.toStrictEqual(before.docs.map((doc) => doc.id))
      await expectFresh(popular)
    })

    it('a count sees a create and a delete', async () => {
      const before = await warm(published)
      const created = await pair.cached.create({ collection: 'posts', data: { title: 'New', views: 9, _status: 'published' } })
      expect((await expectFresh(published)).totalDocs).toBe(before.totalDocs + 1)
      await warm(published)
      await pair.cached.delete({ collection: 'posts', id: created.id })
      expect((await expectFresh(published)).totalDocs).toBe(before.totalDocs)
    })

    it('lists and counts that require an author survive creates, deletes and moves in other authors’ partitions, and see those in their own', async () => {
      const [ada, grace, linus] = data.authors.map((author) => author.id) as [number | string, number | string, number | string]
      const byAda = (p: Payload) =>
        p.find({ collection: 'posts', depth: 0, limit: 10, sort: '-publishedOn', where: { author: { equals: ada } } })
      const adaPublished = (p: Payload) =>
        p.count({ collection: 'posts', where: { and: [{ author: { equals: ada } }, { _status: { equals: 'published' } }] } })
      // As REST passes it: the id as text.
      const adaAsText = (p: Payload) => p.count({ collection: 'posts', where: { author: { in: [String(ada)] } } })
      const reads = [byAda, adaPublished, adaAsText] as const
      const warmAll = async () => {
        const out: unknown[] = []
        for (const read of reads) out.push(await warm(read as (p: Payload) => Promise<unknown>))
        return out
      }
      const servedAll = async (before: unknown[]) => {
        for (const [i, read] of reads.entries()) await expectServed(read as (p: Payload) => Promise<unknown>, before[i])
      }
      const byValue = pair.cache.breakdown().totals.listsByValue
      let before = await warmAll()
      expect(pair.cache.breakdown().totals.listsByValue).toBeGreaterThan(byValue)

      // Elsewhere: created, moved between two other authors, deleted.
      const other = await pair.cached.create({ collection: 'posts', data: { title: 'Grace’s', author: grace, _status: 'published' } })
      await servedAll(before)
      await pair.cached.update({ collection: 'posts', id: other.id, data: { author: linus } })
      await servedAll(before)
      await pair.cached.delete({ collection: 'posts', id: other.id })
      await servedAll(before)

      // Into Ada's partition by a move, then a draft of hers published, then out by a delete.
      const mine = await pair.cached.create({ collection: 'posts', data: { title: 'Soon Ada’s', author: grace, _status: 'published' } })
      await servedAll(before)
      await pair.cached.update({ collection: 'posts', id: mine.id, data: { author: ada } })
      expect((await expectFresh(byAda)).docs.map((doc) => doc.id)).toContain(mine.id)
      expect((await expectFresh(adaPublished)).totalDocs).toBe((before[1] as { totalDocs: number }).totalDocs + 1)
      expect((await expectFresh(adaAsText)).totalDocs).toBe((before[2] as { totalDocs: number }).totalDocs + 1)
      before = await warmAll()
      // The seed gives post i author i % 3, and leaves posts 6 and 7 drafts: 6 is Ada's.
      const draft = await pair.plain.findByID({ collection: 'posts', id: post(6), depth: 0 })
      expect([draft.author, draft._status]).toStrictEqual([ada, 'draft'])
      await pair.cached.update({ collection: 'posts', id: post(6), data: { _status: 'published' } })
      expect((await expectFresh(adaPublished)).totalDocs).toBe((before[1] as { totalDocs: number }).totalDocs + 1)
      await warmAll()
      await pair.cached.delete({ collection: 'posts', id: mine.id })
      expect((await expectFresh(byAda)).docs.map((doc) => doc.id)).not.toContain(mine.id)
      await expectFresh(adaPublished)
      await expectFresh(adaAsText)
    })

    it('overlapping updates that move a post into a partition bump every partitioned list', async () => {
      const ada = data.authors[0]!.id
      // The seed gives post i author i % 3: post 5 is Linus's.
      const linusPost = 5
      expect((await pair.plain.findByID({ collection: 'posts', id: post(linusPost), depth: 0 })).author).toBe(data.authors[2]!.id)
      const adaCount = (p: Payload) => p.count({ collection: 'posts', where: { author: { equals: ada } } })
      const before = await warm(adaCount)
      const unknown = pair.cache.breakdown().totals.unknownPartitionBumps
      // Straight to the adapter: Payload's own updates would queue on SQLite's write lock.
      const update = (body: string) =>
        pair.cached.db.updateOne({ collection: 'posts', id: post(linusPost), data: { author: ada, body }, req: {} })
      await Promise.all([update('first'), update('second')])
      expect(pair.cache.breakdown().totals.unknownPartitionBumps).toBeGreaterThan(unknown)
      expect((await expectFresh(adaCount)).totalDocs).toBe(before.totalDocs + 1)
    })

    it('an upsert of the document its where matches is seen as an update is (a list filtering on what it changed, the partitions it left and entered); one that creates, as a create is', async () => {
      // @payloadcms/db-d1-sqlite 3.87.1's upsert writes nothing in Miniflare's D1 (preferences.ts).
      if (env.kind === 'd1') return
      const [from, to] = [data.authors[0]!, data.authors[1]!]
      const { id } = await pair.cached.create({
        collection: 'posts',
        data: { title: 'Upserted', body: 'upserted', views: 0, author: from.id },
      })
      const countOf = (author: number | string) => (p: Payload) => p.count({ collection: 'posts', where: { author: { equals: author } } })
      const viewed = (p: Payload) =>
        p.find({ collection: 'posts', depth: 0, limit: 5, sort: 'title', where: { views: { greater_than_equal: 50 } } })
      const upsert = async (body: string, data: Record<string, unknown>) =>
        pair.cached.db.upsert({ collection: 'posts', where: { body: { equals: body } }, data, req: await createLocalReq({}, pair.cached) })
      const counts = { from: await warm(countOf(from.id)), to: await warm(countOf(to.id)) }
      await warm(viewed)
      await upsert('upserted', { views: 60, author: to.id })
      expect((await expectFresh(viewed)).docs.map((doc) => doc.id)).toContain(id)
      expect((await expectFresh(countOf(from.id))).totalDocs).toBe(counts.from.totalDocs - 1)
      expect((await expectFresh(countOf(to.id))).totalDocs).toBe(counts.to.totalDocs + 1)
      await warm(countOf(from.id))
      const created = (await upsert('upserted anew', { title: 'Upserted anew', body: 'upserted anew', author: from.id })) as {
        id: number | string
      }
      expect((await expectFresh(countOf(from.id))).totalDocs).toBe(counts.from.totalDocs)
      for (const doc of [id, created.id]) await pair.cached.delete({ collection: 'posts', id: doc })
      await expectFresh(viewed)
    })

    it('findDistinct depends on its field: an edit elsewhere leaves it, an edit of the field is seen', async () => {
      if (missingFeatures(env.kind).findDistinct) return
      const distinct = (p: Payload) => p.findDistinct({ collection: 'posts', field: 'views', sort: 'views', limit: 20 })
      const before = await warm(distinct)
      await pair.cached.update({ collection: 'posts', id: post(1), data: { body: 'Not the distinct field' } })
      await expectServed(distinct, before)
      await pair.cached.update({ collection: 'posts', id: post(1), data: { views: 77 } })
      const after = await expectFresh(distinct)
      expect(JSON.stringify(after)).toContain('77')
    })

    describe('population reads (a where that pins ids)', () => {
      /** As Payload populates a relationship: the ids a page names, no page size. */
      const populate = (ids: Array<number | string>) => (p: Payload) =>
        p.find({ collection: 'categories', where: { id: { in: ids } }, depth: 0, pagination: false })
      const pinned = () => pair.cache.breakdown().totals.listsPinned

      it('depends on the documents it names: an edit, a create or a delete of another leaves it cached; an edit or a delete of one it names is seen', async () => {
        const [news, tech] = data.categories.map((category) => category.id) as [number | string, number | string]
        const other = await pair.cached.create({ collection: 'categories', data: { title: 'Other' } })
        const read = populate([news, tech])
        const before = pinned()
        const page = await warm(read)
        expect(pinned()).toBeGreaterThan(before)
        await pair.cached.update({ collection: 'categories', id: other.id, data: { title: 'Other, edited' } })
        await expectServed(read, page)
        const created = await pair.cached.create({ collection: 'categories', data: { title: 'Created' } })
        await expectServed(read, page)
        await pair.cached.delete({ collection: 'categories', id: created.id })
        await expectServed(read, page)
        await pair.cached.update({ collection: 'categories', id: tech, data: { title: 'Tech, renamed' } })
        expect((await expectFresh(read)).docs.map((doc) => doc.title)).toContain('Tech, renamed')
        await warm(read)
        await pair.cached.update({ collection: 'categories', id: tech, data: { title: 'Tech' } })
        await expectFresh(read)
        // A document it names deleted is seen; so is a create that takes its id again (SQLite
        // hands the highest id out again once its row is gone).
        const later = populate([news, other.id])
        await warm(later)
        await pair.cached.delete({ collection: 'categories', id: other.id })
        expect((await expectFresh(later)).docs.map((doc) => doc.id)).toStrictEqual([news])
        await warm(later)
        const again = await pair.cached.create({ collection: 'categories', data: { title: 'Perhaps the same id' } })
        await expectFresh(later)
        await pair.cached.delete({ collection: 'categories', id: again.id })
      })

      it('with access control’s conditions beside the ids (`and`), under a sort and a page size: an edit that makes a named document match is seen', async () => {
        const [news, tech] = data.categories.map((category) => category.id) as [number | string, number | string]
        const read = (p: Payload) =>
          p.find({
            collection: 'categories',
            where: { and: [{ id: { in: [news, tech] } }, { title: { like: 'Visible' } }] },
            sort: '-title',
            limit: 1,
            depth: 0,
          })
        const before = pinned()
        expect((await warm(read)).docs).toStrictEqual([])
        expect(pinned()).toBeGreaterThan(before)
        await pair.cached.update({ collection: 'categories', id: tech, data: { title: 'Visible tech' } })
        expect((await expectFresh(read)).docs.map((doc) => doc.id)).toStrictEqual([tech])
        await warm(read)
        await pair.cached.update({ collection: 'categories', id: news, data: { title: 'Visible news' } })
        expect((await expectFresh(read)).docs.map((doc) => doc.id)).toStrictEqual([tech])
        expect((await expectFresh(read)).totalDocs).toBe(2)
        for (const [id, title] of [
          [news, 'News'],
          [tech, 'Tech'],
        ] as const)
          await pair.cached.update({ collection: 'categories', id, data: { title } })
        await expectFresh(read)
      })

      it('Payload’s own population (find with depth): an edit of a category no post on the page names leaves the whole read served from KV', async () => {
        const page = (p: Payload) =>
          p.find({ collection: 'posts', depth: 1, limit: 4, sort: 'title', where: { categories: { in: [data.categories[0]!.id] } } })
        const before = await warm(page)
        const other = await pair.cached.create({ collection: 'categories', data: { title: 'Unused' } })
        await pair.cached.update({ collection: 'categories', id: other.id, data: { title: 'Unused, edited' } })
        await expectServed(page, before)
        await pair.cached.update({ collection: 'categories', id: data.categories[0]!.id, data: { title: 'News, renamed' } })
        await expectFresh(page)
        await pair.cached.update({ collection: 'categories', id: data.categories[0]!.id, data: { title: 'News' } })
        await pair.cached.delete({ collection: 'categories', id: other.id })
      })

      it('ids it cannot name a stamp by (a number id as text, a comma-separated string) keep to the collection stamp, and see an edit of what they name', async () => {
        const [news, tech] = data.categories.map((category) => category.id) as [number | string, number | string]
        const before = pinned()
        const byIDs = (ids: string | Array<number | string>) => (p: Payload) =>
          p.find({ collection: 'categories', where: { id: { in: ids } }, depth: 0, pagination: false })
        const reads = [byIDs(String(news))]
        // As text alone, and beside an id as the database returns it.
        if (typeof news === 'number') reads.push(byIDs([String(news)]), byIDs([String(news), tech]))
        for (const read of reads) await warm(read)
        expect(pinned()).toBe(before)
        const { title } = await pair.plain.findByID({ collection: 'categories', id: news, depth: 0 })
        await pair.cached.update({ collection: 'categories', id: news, data: { title: `${title}, renamed` } })
        for (const read of reads) await expectFresh(read)
        await pair.cached.update({ collection: 'categories', id: news, data: { title } })
      })
    })

    describe('complete answers (a page that holds every match)', () => {
      /** An author's posts, most viewed first: `views` is a field it sorts on and does not filter on. */
      const byAuthor =
        (author: number | string, limit = 10) =>
        (p: Payload) =>
          p.find({ collection: 'posts', depth: 0, limit, sort: '-views', where: { author: { equals: author } } })
      /** The same through the adapter, as Payload's preferences read: one page, no count in the answer. */
      const unpaged = (author: number | string, limit: number) => (p: Payload) =>
        p.db.find({ collection: 'posts', limit, pagination: false, sort: '-views', where: { author: { equals: author } } })
      let author: number | string
      /** The author's three posts, views 1, 2 and 3, and a post of another author. */
      let own: Array<{ id: number | string; views: number }>
      let other: { id: number | string; author: number | string }

      beforeAll(async () => {
        author = (await pair.cached.create({ collection: 'authors', data: { name: 'Complete' } })).id
        own = []
        for (const views of [1, 2, 3])
          own.push({
            id: (await pair.cached.create({ collection: 'posts', data: { title: `Complete ${views}`, views, author } })).id,
            views,
          })
        const outsider = data.authors.find((candidate) => candidate.id !== author)!.id
        other = {
          id: (await pair.cached.create({ collection: 'posts', data: { title: 'Outsider', views: 0, author: outsider } })).id,
          author: outsider,
        }
      })

      afterAll(async () => {
        for (const { id } of [...own, other]) await pair.cached.delete({ collection: 'posts', id })
      })

      it('an edit of a field it only sorts on, of a post outside the match, leaves it served; a member’s edit of it, and a post moved into the match, are seen', async () => {
        const read = byAuthor(author)
        const completes = pair.cache.breakdown().totals.listsComplete
        const page = await warm(read)
        expect(page.docs.map((doc) => doc.id)).toStrictEqual([own[2]!.id, own[1]!.id, own[0]!.id])
        expect(pair.cache.breakdown().totals.listsComplete).toBe(completes + 1)
        await pair.cached.update({ collection: 'posts', id: other.id, data: { views: 1000 } })
        await expectServed(read, page)
        await pair.cached.update({ collection: 'posts', id: own[0]!.id, data: { views: 2000 } })
        expect((await expectFresh(read)).docs[0]!.id).toBe(own[0]!.id)
        await warm(read)
        await pair.cached.update({ collection: 'posts', id: other.id, data: { author, views: 3000 } })
        expect((await expectFresh(read)).docs[0]!.id).toBe(other.id)
        await pair.cached.update({ collection: 'posts', id: other.id, data: { author: other.author, views: 0 } })
        await pair.cached.update({ collection: 'posts', id: own[0]!.id, data: { views: 1 } })
        await expectFresh(read)
      })

      it('a page short of its matches (with ties on the sort) sees an edit of the sort field that brings a post outside it onto the page', async () => {
        // Every match ties on `views`: which two are on the page falls to the adapter's tie-break.
        for (const { id } of own) await pair.cached.update({ collection: 'posts', id, data: { views: 7 } })
        const read = byAuthor(author, 2)
        const page = await warm(read)
        expect(page.totalDocs).toBe(3)
        const outside = own.find((doc) => !page.docs.some((shown) => shown.id === doc.id))!
        await pair.cached.update({ collection: 'posts', id: outside.id, data: { views: 8 } })
        expect((await expectFresh(read)).docs[0]!.id).toBe(outside.id)
        for (const { id, views } of own) await pair.cached.update({ collection: 'posts', id, data: { views } })
        await expectFresh(read)
      })

      it('a page the database cuts short by joined rows, not documents (sorted on a hasMany relationship), is not taken as complete: a post moved onto it is seen', async () => {
        const categories: Array<number | string> = []
        for (const title of ['Rows 1', 'Rows 2', 'Rows 3', 'Rows 4'])
          categories.push((await pair.cached.create({ collection: 'categories', data: { title } })).id)
        const [c1, c2, c3, c4] = categories as [number | string, number | string, number | string, number | string]
        const posts: Array<number | string> = []
        for (let i = 0; i < 6; i++)
          posts.push(
            (
              await pair.cached.create({
                collection: 'posts',
                data: { title: `Rows ${i}`, body: 'rows', categories: i < 2 ? [c2, c3] : [c4] },
              })
            ).id,
          )
        const reads = [
          (p: Payload) => p.find({ collection: 'posts', depth: 0, limit: 4, sort: 'categories', where: { body: { equals: 'rows' } } }),
          (p: Payload) =>
            p.db.find({ collection: 'posts', limit: 4, pagination: false, sort: 'categories', where: { body: { equals: 'rows' } } }),
        ]
        for (const read of reads) {
          const page = await warm(read)
          const outside = posts.find((id) => !page.docs.some((doc) => doc.id === id))!
          await pair.cached.update({ collection: 'posts', id: outside, data: { categories: [c1] } })
          expect((await expectFresh(read)).docs.map((doc) => doc.id)).toContain(outside)
          await pair.cached.update({ collection: 'posts', id: outside, data: { categories: [c4] } })
        }
        for (const id of posts) await pair.cached.delete({ collection: 'posts', id })
        for (const id of categories) await pair.cached.delete({ collection: 'categories', id })
      })

      it('without a count in the answer (pagination off, as the admin’s preferences read): once its entry has gone stale, complete when the database counts no more matches, else it keeps the sort field’s stamp', async () => {
        const complete = unpaged(author, 3)
        const short = unpaged(author, 2)
        // A first fill asks no count: both go stale at an edit of `views` anywhere.
        for (const read of [complete, short]) await warm(read)
        await pair.cached.update({ collection: 'posts', id: other.id, data: { views: 1000 } })
        for (const read of [complete, short]) await expectFresh(read)
        // Refilled, with the count: the complete one leaves `views` out, the short one keeps it.
        const before = await warm(complete)
        expect(before.docs).toHaveLength(3)
        await warm(short)
        await pair.cached.update({ collection: 'posts', id: other.id, data: { views: 2000 } })
        await expectServed(complete, before)
        await pair.cached.update({ collection: 'posts', id: own[0]!.id, data: { views: 5000 } })
        expect((await expectFresh(short)).docs[0]!.id).toBe(own[0]!.id)
        await pair.cached.update({ collection: 'posts', id: own[0]!.id, data: { views: 1 } })
        await pair.cached.update({ collection: 'posts', id: other.id, data: { views: 0 } })
        await expectFresh(short)
        await expectFresh(complete)
      })
    })

    it('reads it cannot make precise keep to the collection stamp, each counted by reason', async () => {
      const totals = () => pair.cache.breakdown().totals
      const before = totals()
      await pair.cached.find({ collection: 'posts', depth: 0, where: { 'author.name': { equals: 'Ada' } } })
      await pair.cached.find({ collection: 'posts', depth: 0, pagination: false })
      await pair.cached.find({ collection: 'posts', depth: 0, draft: true, where: { title: { like: 'Post' } } })
      await pair.cached.find({ collection: 'posts', depth: 0, limit: 3, where: { views: { equals: 1 } } })
      const after = totals()
      expect(after.listFallbacksTraversal - before.listFallbacksTraversal).toBe(1)
      expect(after.listFallbacksPageSize - before.listFallbacksPageSize).toBe(1)
      expect(after.listFallbacksVersions - before.listFallbacksVersions).toBe(1)
      expect(after.listsPrecise - before.listsPrecise).toBe(1)
      // A fallback list still sees every write to its collection.
      const byAuthor = (p: Payload) => p.find({ collection: 'posts', depth: 0, sort: 'title', where: { 'author.name': { equals: 'Ada' } } })
      await warm(byAuthor)
      await pair.cached.update({ collection: 'posts', id: post(0), data: { body: 'Seen by a fallback list' } })
      const fresh = await expectFresh(byAuthor)
      expect(fresh.docs.find((doc) => doc.id === post(0))?.body).toBe('Seen by a fallback list')
    })

    it('overlapping updates of one document bump membership rather than trust either before image', async () => {
      const before = pair.cache.breakdown().totals.membershipBumps
      await warm(popular)
      // Straight to the adapter: Payload's own updates would queue on SQLite's write lock.
      const update = (views: number) => pair.cached.db.updateOne({ collection: 'posts', id: post(2), data: { views }, req: {} })
      await Promise.all([update(3), update(0)])
      expect(pair.cache.breakdown().totals.membershipBumps).toBeGreaterThan(before)
      await expectFresh(popular)
    })

    if (env.kind !== 'd1' && env.kind !== 'mongodb') {
      it('updates inside a transaction are compared with the row as the transaction saw it, and seen once it commits', async () => {
        const before = await warm(popular)
        const outsider = data.posts.findIndex((_, i) => i < 6 && !before.docs.some((doc) => doc.id === post(i)))
        const transactionID = await pair.cached.db.beginTransaction()
        const req = { transactionID: transactionID! } as Partial<PayloadRequest>
        // The first update moves it in; the second, compared with the first's row, changes only the body.
        await pair.cached.update({ collection: 'posts', id: post(outsider), data: { views: 5 }, req })
        await pair.cached.update({ collection: 'posts', id: post(outsider), data: { body: 'second step' }, req })
        await expectServed(popular, before)
        await pair.cached.db.commitTransaction(transactionID!)
        const after = await expectFresh(popular)
        expect(after.docs.map((doc) => doc.id)).toContain(post(outsider))
      })
    }

    it('a write that names no document, landing between an update’s before image and its write, makes the update bump membership', async () => {
      const target = post(1)
      await pair.cached.db.updateOne({ collection: 'posts', id: target, data: { views: 1 }, req: {} })
      const count = (p: Payload) => p.count({ collection: 'posts', where: { views: { equals: 666 } } })
      await warm(count)
      const inner = unwrapAdapter(pair.cached.db) as unknown as { findOne: (args: unknown) => Promise<unknown> }
      const original = inner.findOne
      let done = false
      // Right after the update's before image: an updateMany moves the post into the count,
      // and the count is filled with it.
      inner.findOne = async function (this: unknown, args: unknown) {
        const row = await original.call(this, args)
        if (!done && (args as { joins?: unknown }).joins === false) {
          done = true
          await pair.cached.db.updateMany({
            collection: 'posts',
            where: { id: { equals: target } },
            data: { views: 666 },
            req: {},
          })
          await pair.cache.settled()
          expect((await count(pair.cached)).totalDocs).toBe(1)
          await pair.cache.settled()
        }
        return row
      }
      try {
        // The update puts back the views its own before image had.
        await pair.cached.db.updateOne({
          collection: 'posts',
          id: target,
          data: { views: 1, body: 'puts views back' },
          req: {},
        })
      } finally {
        inner.findOne = original
      }
      expect(done).toBe(true)
      await pair.cache.settled()
      expect((await count(pair.plain)).totalDocs).toBe(0)
      expect(await count(pair.cached)).toStrictEqual(await count(pair.plain))
    })

    describe('the member race', () => {
      const held = (where: Where) => (p: Payload) => p.find({ collection: 'posts', depth: 0, limit: 4, sort: 'publishedOn', where })

      it('a member edited and committed in this isolate while the query is held: not filled, the next read is fresh', async () => {
        const read = held({ views: { less_than: 100 } })
        const member = (await read(pair.plain)).docs[0]!.id
        const skipsBefore = pair.cache.breakdown().totals.fillSkipsRace
        const hold = holdNextFind(pair.cached, async () => {
          await pair.cached.update({ collection: 'posts', id: member, data: { body: 'Written while the list was read' } })
        })
        try {
          const stale = await read(pair.cached)
          expect(hold.ran()).toBe(true)
          expect(stale.docs[0]!.body).not.toBe('Written while the list was read')
          await pair.cache.settled()
        } finally {
          hold.restore()
        }
        expect(pair.cache.breakdown().totals.fillSkipsRace).toBeGreaterThan(skipsBefore)
        const fresh = await read(pair.cached)
        expect(fresh.docs[0]!.body).toBe('Written while the list was read')
        expect(fresh).toStrictEqual(await read(pair.plain))
      })

      it('a read that starts after this isolate wrote a member never shares the database call that read the old row', async () => {
        const read = held({ views: { less_than: 101 } })
        const member = (await read(pair.plain)).docs[0]!.id
        let second: ReturnType<typeof read> | undefined
        const hold = holdNextFind(pair.cached, async () => {
          await pair.cached.update({ collection: 'posts', id: member, data: { body: 'Written before the second read' } })
          // The write has returned: every read from here on must see it (guarantee 2).
          second = read(pair.cached)
          await new Promise((resolve) => setTimeout(resolve, 100))
        })
        try {
          await read(pair.cached)
          expect((await second!).docs[0]!.body).toBe('Written before the second read')
          await pair.cache.settled()
        } finally {
          hold.restore()
        }
      })

      describe('two isolates', () => {
        let a: { payload: Payload; cache: KVCacheHandle }
        let b: { payload: Payload; cache: KVCacheHandle }
        let plain: Payload

        beforeAll(async () => {
          const database = await env.newDatabase()
          const prefix = `lists${prefixes++}${Date.now().toString(36)}`
          const start = async () => {
            const wrapped = withKVCache(database.adapter(), { kv: env.kv(), prefix })
            return { payload: await startPayload(wrapped), cache: wrapped.kvCache }
          }
          a = await start()
          b = await start()
          plain = await startPayload(database.adapter())
          await seed(a.payload)
          await a.cache.settled()
        })

        afterAll(async () => {
          await a.cache.settled()
          await b.cache.settled()
          await closePayload(a.payload)
          await closePayload(b.payload)
          await closePayload(plain)
        })

        it('a delete outside a transaction, whose post another isolate moved after the delete’s before image, bumps the partition it was moved to', async () => {
          const authors = (await plain.find({ collection: 'authors', depth: 0, sort: 'name', limit: 2 })).docs
          const [ada, grace] = [authors[0]!.id, authors[1]!.id]
          const doomed = await plain.create({ collection: 'posts', data: { title: 'Doomed', author: ada, _status: 'published' } })
          const graceCount = (p: Payload) => p.count({ collection: 'posts', where: { author: { equals: grace } } })
          const inner = unwrapAdapter(a.payload.db) as unknown as { deleteOne: (args: unknown) => Promise<unknown> }
          const original = inner.deleteOne
          inner.deleteOne = async function (this: unknown, args: unknown) {
            inner.deleteOne = original
            // After A read the row (Ada's) and before it deletes: B moves the post to Grace, and
            // Grace's count is filled with it.
            await b.payload.db.updateOne({ collection: 'posts', id: doomed.id, data: { author: grace }, req: {} })
            await b.cache.settled()
            await graceCount(b.payload)
            await b.cache.settled()
            return original.call(this, args)
          }
          try {
            await a.payload.db.deleteOne({ collection: 'posts', where: { id: { equals: doomed.id } }, req: {} })
          } finally {
            inner.deleteOne = original
          }
          await a.cache.settled()
          for (const isolate of [a, b]) expect(await graceCount(isolate.payload)).toStrictEqual(await graceCount(plain))
        })

        if (env.kind === 'postgres') {
          it('two transactions in two isolates: the later one, which puts back a field the earlier changed, still bumps it (the row is locked)', async () => {
            const target = (await plain.find({ collection: 'posts', depth: 0, limit: 1, sort: 'title' })).docs[0]!.id
            await a.payload.db.updateOne({ collection: 'posts', id: target, data: { views: 1 }, req: {} })
            await a.cache.settled()
            const count = (p: Payload) => p.count({ collection: 'posts', where: { views: { equals: 555 } } })
            const t1 = await a.payload.db.beginTransaction()
            await a.payload.db.updateOne({
              collection: 'posts',
              id: target,
              data: { views: 555 },
              req: { transactionID: t1! },
            })
            const t2 = await b.payload.db.beginTransaction()
            // Payload saves whole documents: the second editor's data still has the old views.
            const second = b.payload.db.updateOne({
              collection: 'posts',
              id: target,
              data: { views: 1, body: 'the other editor' },
              req: { transactionID: t2! },
            })
            await new Promise((resolve) => setTimeout(resolve, 300))
            await a.payload.db.commitTransaction(t1!)
            await a.cache.settled()
            // Filled with the first editor's row.
            expect((await count(a.payload)).totalDocs).toBe(1)
            await a.cache.settled()
            await second
            await b.payload.db.commitTransaction(t2!)
            await b.cache.settled()
            expect((await count(plain)).totalDocs).toBe(0)
            for (const isolate of [a, b]) expect(await count(isolate.payload)).toStrictEqual(await count(plain))
          })
        }

        it('a population read (id in [...]) in one isolate: an edit of another post through the other leaves it served, an edit of a post it names is seen, and one made while its query is held is never served old', async () => {
          const ids = (await plain.find({ collection: 'posts', depth: 0, limit: 3, sort: 'id' })).docs.map((doc) => doc.id)
          const [named, alsoNamed, other] = ids as [number | string, number | string, number | string]
          const read = (p: Payload) =>
            p.find({ collection: 'posts', where: { id: { in: [named, alsoNamed] } }, depth: 0, pagination: false })
          const hitsOf = () => b.cache.stats().hits
          await read(b.payload)
          await b.cache.settled()
          let hits = hitsOf()
          expect(await read(b.payload)).toStrictEqual(await read(plain))
          expect(hitsOf()).toBe(hits + 1)
          await a.payload.update({ collection: 'posts', id: other, data: { body: 'Not on the page' } })
          await a.cache.settled()
          hits = hitsOf()
          expect(await read(b.payload)).toStrictEqual(await read(plain))
          expect(hitsOf()).toBe(hits + 1)
          await a.payload.update({ collection: 'posts', id: alsoNamed, data: { body: 'On the page' } })
          await a.cache.settled()
          // The edit is seen (a miss), and this read is held after the database answered while
          // the other isolate edits the other post it names.
          const hold = holdNextFind(b.payload, async () => {
            await a.payload.update({ collection: 'posts', id: named, data: { body: 'Written mid-read' } })
            await a.cache.settled()
          })
          try {
            await read(b.payload)
            expect(hold.ran()).toBe(true)
            await b.cache.settled()
          } finally {
            hold.restore()
          }
          for (const isolate of [a, b]) {
            const seen = await read(isolate.payload)
            expect(seen.docs.find((doc) => doc.id === alsoNamed)?.body).toBe('On the page')
            expect(seen.docs.find((doc) => doc.id === named)?.body).toBe('Written mid-read')
            expect(seen).toStrictEqual(await read(plain))
          }
        })

        it('a member edited through another isolate while the query is held: the old row is never served', async () => {
          const read = held({ views: { less_than: 100 } })
          const member = (await read(plain)).docs[1]!.id
          // The edit is committed and its stamp landed before the query's answer is filled.
          const hold = holdNextFind(a.payload, async () => {
            await b.payload.update({ collection: 'posts', id: member, data: { body: 'Written elsewhere mid-read' } })
            await b.cache.settled()
          })
          try {
            await read(a.payload)
            expect(hold.ran()).toBe(true)
            await a.cache.settled()
          } finally {
            hold.restore()
          }
          for (const isolate of [a, b]) {
            const seen = await read(isolate.payload)
            expect(seen.docs[1]!.body).toBe('Written elsewhere mid-read')
            expect(seen).toStrictEqual(await read(plain))
          }
        })
      })
    })

    /*
     * Each case below is a write that changes a list only through one stamp a plan or a
     * write's bump set could leave out; each was found by changing that code (issue 22).
     */
    describe('what a write bumps and a list checks, one stamp at a time', () => {
      type ID = number | string
      /** A post of `author` now, as the earlier cases left them. */
      const postOf = async (author: ID) => {
        const where = { author: { equals: author } }
        return (await pair.plain.find({ collection: 'posts', depth: 0, limit: 1, sort: 'title', where })).docs[0]!.id
      }
      const countOf = (where: Where) => (p: Payload) => p.count({ collection: 'posts', where })

      it('a post moved out of a partition: a count of the partition it left sees it', async () => {
        const [ada, grace] = data.authors.map((author) => author.id) as [ID, ID]
        const moved = await postOf(ada)
        // A count has no members whose stamps would see the move: only the partition it left.
        const adaCount = countOf({ author: { equals: ada } })
        const before = await warm(adaCount)
        await pair.cached.update({ collection: 'posts', id: moved, data: { author: grace } })
        expect((await expectFresh(adaCount)).totalDocs).toBe(before.totalDocs - 1)
        await warm(adaCount)
        await pair.cached.update({ collection: 'posts', id: moved, data: { author: ada } })
        expect((await expectFresh(adaCount)).totalDocs).toBe(before.totalDocs)
      })

      it('a partition field in an `or`, or under `not_equals`, is no partition: a move into another value is seen', async () => {
        const [ada, grace, linus] = data.authors.map((author) => author.id) as [ID, ID, ID]
        const moved = await postOf(linus)
        const either = countOf({ or: [{ author: { equals: ada } }, { author: { equals: grace } }] })
        const notAda = countOf({ author: { not_equals: ada } })
        const before = [await warm(either), await warm(notAda)]
        await pair.cached.update({ collection: 'posts', id: moved, data: { author: grace } })
        expect((await expectFresh(either)).totalDocs).toBe(before[0]!.totalDocs + 1)
        await expectFresh(notAda)
        await pair.cached.update({ collection: 'posts', id: moved, data: { author: ada } })
        expect((await expectFresh(notAda)).totalDocs).toBe(before[1]!.totalDocs - 1)
        await expectFresh(either)
        await pair.cached.update({ collection: 'posts', id: moved, data: { author: linus } })
        await expectFresh(notAda)
      })

      it('a number id spelt with a leading zero is no partition value', async () => {
        const [ada, , linus] = data.authors.map((author) => author.id) as [ID, ID, ID]
        if (typeof ada !== 'number') return
        const moved = await postOf(linus)
        // SQL casts '0<id>' to the id: the count is Ada's, whatever the partition says.
        const padded = countOf({ author: { equals: `0${ada}` } })
        const before = await warm(padded)
        expect(before).toStrictEqual(await countOf({ author: { equals: ada } })(pair.plain))
        await pair.cached.update({ collection: 'posts', id: moved, data: { author: ada } })
        await expectFresh(padded)
        await pair.cached.update({ collection: 'posts', id: moved, data: { author: linus } })
        await expectFresh(padded)
      })

      it('an upsert and a deleteOne by a where that names no id bump every partition', async () => {
        const ada = data.authors[0]!.id
        const adaCount = countOf({ author: { equals: ada } })
        await warm(adaCount)
        const where = { body: { equals: 'Upserted into Ada’s partition' } }
        await pair.cached.db.upsert({
          collection: 'posts',
          where,
          data: { body: where.body.equals, author: ada, _status: 'published' },
          req: {},
        })
        await expectFresh(adaCount)
        await warm(adaCount)
        await pair.cached.db.deleteOne({ collection: 'posts', where, req: {} })
        await expectFresh(adaCount)
      })

      it('an updateMany, which names no document, is seen by a precise count', async () => {
        const target = post(4)
        const views = (await pair.plain.findByID({ collection: 'posts', id: target, depth: 0 })).views
        const many = countOf({ views: { equals: 4242 } })
        expect((await warm(many)).totalDocs).toBe(0)
        await pair.cached.db.updateMany({ collection: 'posts', where: { id: { equals: target } }, data: { views: 4242 }, req: {} })
        expect((await expectFresh(many)).totalDocs).toBe(1)
        await pair.cached.update({ collection: 'posts', id: target, data: { views } })
        await expectFresh(many)
      })

      it('an edit of a group field’s value is seen by a count on it', async () => {
        const target = post(2)
        const scored = countOf({ 'meta.score': { greater_than: 1000 } })
        expect((await warm(scored)).totalDocs).toBe(0)
        await pair.cached.update({ collection: 'posts', id: target, data: { meta: { score: 1001 } } })
        expect((await expectFresh(scored)).totalDocs).toBe(1)
        await pair.cached.update({ collection: 'posts', id: target, data: { meta: { score: 3 } } })
        await expectFresh(scored)
      })

      it('an update that changes more fields than are bumped one by one is seen by a list on any of them', async () => {
        const since = new Date().toISOString()
        const recent = countOf({ updatedAt: { greater_than_equal: since } })
        expect((await warm(recent)).totalDocs).toBe(0)
        await pair.cached.update({
          collection: 'posts',
          id: post(1),
          data: {
            title: 'Many fields',
            body: 'Many fields',
            views: 41,
            publishedOn: new Date(Date.UTC(2024, 5, 1)).toISOString(),
            categories: [],
            tags: ['life'],
            meta: { score: 4, note: 'many' },
            data: { many: true },
          },
        })
        expect((await expectFresh(recent)).totalDocs).toBe(1)
      })

      it('a change of createdAt, the adapters’ last sort key, reorders a page sorted on ties', async () => {
        const made = []
        for (const i of [0, 1, 2])
          made.push(await pair.cached.create({ collection: 'posts', data: { title: `Tie ${i}`, views: 900, _status: 'published' } }))
        const page = (p: Payload) => p.find({ collection: 'posts', depth: 0, limit: 2, sort: 'views', where: { views: { equals: 900 } } })
        const before = await warm(page)
        const outside = made.find((doc) => !before.docs.some((member) => member.id === doc.id))!
        // The adapters break ties newest first: made the newest, the post joins the page.
        await pair.cached.db.updateOne({ collection: 'posts', id: outside.id, data: { createdAt: '2100-01-01T00:00:00.000Z' }, req: {} })
        expect((await expectFresh(page)).docs.map((doc) => doc.id)).toContain(outside.id)
        for (const doc of made) await pair.cached.delete({ collection: 'posts', id: doc.id })
      })
    })

    describe('population reads beyond the ids they name', () => {
      const categoryIDs = () => data.categories.map((category) => category.id) as [number | string, number | string]

      it('ids in an `or` pin nothing: an edit of a document the other branch matches is seen', async () => {
        const [news, tech] = categoryIDs()
        const title = (await pair.plain.findByID({ collection: 'categories', id: tech, depth: 0 })).title
        const read = (p: Payload) =>
          p.find({
            collection: 'categories',
            where: { or: [{ id: { in: [news] } }, { title: { equals: title } }] },
            depth: 0,
            pagination: false,
          })
        expect((await warm(read)).docs).toHaveLength(2)
        await pair.cached.update({ collection: 'categories', id: tech, data: { title: `${title}, renamed` } })
        expect((await expectFresh(read)).docs).toHaveLength(1)
        await pair.cached.update({ collection: 'categories', id: tech, data: { title } })
        await expectFresh(read)
      })

      it('an updateMany, which names no document, is seen by a read pinned to ids', async () => {
        const [news, tech] = categoryIDs()
        const title = (await pair.plain.findByID({ collection: 'categories', id: tech, depth: 0 })).title
        const read = (p: Payload) => p.find({ collection: 'categories', where: { id: { in: [news, tech] } }, depth: 0, pagination: false })
        await warm(read)
        await pair.cached.db.updateMany({
          collection: 'categories',
          where: { id: { equals: tech } },
          data: { title: 'By updateMany' },
          req: {},
        })
        expect((await expectFresh(read)).docs.map((doc) => doc.title)).toContain('By updateMany')
        await pair.cached.update({ collection: 'categories', id: tech, data: { title } })
        await expectFresh(read)
      })
    })
  })
}
