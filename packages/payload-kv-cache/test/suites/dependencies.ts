import { beforeAll, describe, expect, it } from '@jest/globals'
import { countingKV } from '@pkc/testkit'
import type { Payload } from 'payload'
import type { Pair } from '../support/app.js'
import { missingFeatures } from '../support/app.js'
import type { TestEnv } from '../support/env.js'
import { DOCUMENT_STAMPS_PER_SECOND } from '../../src/invalidation/stamps.js'
import type { Seed } from '../support/seed.js'
import { seed } from '../support/seed.js'
import type { CallLog } from '../support/spy.js'
import { readUntilHit, spyOnDatabase } from '../support/spy.js'

/** Reads of A that change when B is written. */
export function dependencySuite(env: TestEnv): void {
  describe('dependencies', () => {
    let pair: Pair
    let data: Seed
    let log: CallLog
    let counted: ReturnType<typeof countingKV>

    beforeAll(async () => {
      pair = await env.newPair({
        wrapKV: (kv) => {
          counted = countingKV(kv)
          return counted
        },
      })
      data = await seed(pair.cached)
      log = spyOnDatabase(pair.cached)
    })

    const warm = <T>(read: (p: Payload) => Promise<T>): Promise<T> => readUntilHit(pair, log, read)

    /** After a write the read does not depend on: still served from KV (stamps), still true. */
    async function expectStillServed<T>(read: (p: Payload) => Promise<T>, before: T): Promise<void> {
      await pair.cache.settled()
      log.reset()
      const after = await read(pair.cached)
      if (env.strategy === 'stamp') expect(log.reads).toEqual([])
      expect(after).toStrictEqual(before)
      expect(after).toStrictEqual(await read(pair.plain))
    }

    async function expectFresh<T>(read: (p: Payload) => Promise<T>): Promise<T> {
      const result = await read(pair.cached)
      expect(result).toStrictEqual(await read(pair.plain))
      return result
    }

    it('a join field: writing the joined collection invalidates the joining one', async () => {
      const read = (p: Payload) =>
        p.find({ collection: 'authors', sort: 'name', depth: 0, joins: { posts: { sort: '-views', limit: 20 } } })
      const before = await warm(read)
      await pair.cached.update({ collection: 'posts', id: data.posts[0]!.id, data: { author: data.authors[2]!.id } })
      const after = await expectFresh(read)
      expect(after).not.toStrictEqual(before)
    })

    it('a where through a relationship: renaming the author changes which posts match', async () => {
      const read = (p: Payload) => p.find({ collection: 'posts', depth: 0, sort: 'title', where: { 'author.name': { equals: 'Grace' } } })
      const before = await warm(read)
      expect(before.totalDocs).toBeGreaterThan(0)
      await pair.cached.update({ collection: 'authors', id: data.authors[1]!.id, data: { name: 'Grace H.' } })
      const after = await expectFresh(read)
      expect(after.totalDocs).toBe(0)
      await pair.cached.update({ collection: 'authors', id: data.authors[1]!.id, data: { name: 'Grace' } })
    })

    it('a draft read (queryDrafts, paths under version.) through a relationship: renaming the author changes which drafts match', async () => {
      const read = (p: Payload) =>
        p.find({ collection: 'posts', draft: true, depth: 0, sort: 'title', where: { 'author.name': { equals: 'Grace' } } })
      const before = await warm(read)
      expect(before.totalDocs).toBeGreaterThan(0)
      await pair.cached.update({ collection: 'authors', id: data.authors[1]!.id, data: { name: 'Grace D.' } })
      const after = await expectFresh(read)
      expect(after.totalDocs).toBe(0)
      await pair.cached.update({ collection: 'authors', id: data.authors[1]!.id, data: { name: 'Grace' } })
    })

    it('a sort through a relationship follows the related values', async () => {
      const read = (p: Payload) => p.find({ collection: 'posts', depth: 0, sort: 'author.name', limit: 3 })
      const before = await warm(read)
      await pair.cached.update({ collection: 'authors', id: data.authors[2]!.id, data: { name: 'Aaron' } })
      const after = await expectFresh(read)
      expect(after.docs.map((d) => d.id)).not.toEqual(before.docs.map((d) => d.id))
    })

    it('a global whose relationship points at a deleted document is read fresh (SQL: the foreign key is set null)', async () => {
      const featured = await pair.cached.create({ collection: 'posts', data: { title: 'Featured, then deleted' } })
      await pair.cached.updateGlobal({ slug: 'settings', data: { featured: featured.id } })
      const read = (p: Payload) => p.findGlobal({ slug: 'settings', depth: 0 })
      const before = await warm(read)
      expect(before.featured).toBe(featured.id)
      await pair.cached.delete({ collection: 'posts', id: featured.id })
      const after = await expectFresh(read)
      // Mongo keeps the dangling id; SQL's foreign key has nulled it, which a stale entry would hide.
      if (env.kind !== 'mongodb') expect(after.featured).toBeNull()
      await pair.cached.updateGlobal({ slug: 'settings', data: { featured: data.posts[0]!.id } })
    })

    it('deleting a related document is seen by reads of the relating collection (SQL foreign keys)', async () => {
      const extra = await pair.cached.create({ collection: 'categories', data: { title: 'Doomed' } })
      await pair.cached.update({ collection: 'posts', id: data.posts[1]!.id, data: { categories: [data.categories[0]!.id, extra.id] } })
      const read = (p: Payload) => p.findByID({ collection: 'posts', id: data.posts[1]!.id, depth: 0 })
      const before = await warm(read)
      expect(before.categories).toHaveLength(2)
      await pair.cached.delete({ collection: 'categories', id: extra.id })
      const after = await expectFresh(read)
      // Mongo keeps the reference to the deleted document; SQL's foreign key cascades.
      if (env.kind !== 'mongodb') expect(after.categories).toHaveLength(1)
    })

    it('findDistinct follows its relatedAccess (Payload 3.90+): renaming the category that access filters authors by is seen', async () => {
      if (missingFeatures(env.kind).findDistinct) return
      const category = await pair.cached.create({ collection: 'categories', data: { title: 'Favoured' } })
      await pair.cached.update({ collection: 'authors', id: data.authors[0]!.id, data: { favourite: category.id } })
      // What Payload 3.90 passes when the authors' read access is `{ 'favourite.title': ... }`,
      // less the copy it also folds into `where`: MongoDB's adapter reads `relatedAccess` on its
      // own, so the dependency must come from it. (3.87.1's types do not name the argument.)
      const args = {
        collection: 'posts',
        field: 'author.name',
        sort: 'author.name',
        limit: 10,
        relatedAccess: { author: { 'favourite.title': { equals: 'Favoured' } } },
      }
      const read = (p: Payload) => p.db.findDistinct(args)
      await warm(read)
      await pair.cached.update({ collection: 'categories', id: category.id, data: { title: 'No longer favoured' } })
      await pair.cache.settled()
      log.reset()
      await expectFresh(read)
      expect(log.reads).toContain('findDistinct:posts')
      await pair.cached.update({ collection: 'authors', id: data.authors[0]!.id, data: { favourite: null } })
    })

    it('a write to a related collection does not invalidate reads that do not traverse it', async () => {
      const read = (p: Payload) => p.find({ collection: 'posts', depth: 0, sort: 'title', where: { views: { greater_than: -1 } } })
      const before = await warm(read)
      await pair.cached.update({ collection: 'authors', id: data.authors[0]!.id, data: { bio: 'unrelated to this read' } })
      await expectStillServed(read, before)
    })

    it('a select that leaves the join fields out does not depend on the joined collection', async () => {
      const read = (p: Payload) => p.find({ collection: 'authors', depth: 0, sort: 'name', select: { name: true } })
      const before = await warm(read)
      // Moves a post to another author: every join on authors changes, this read does not.
      await pair.cached.update({ collection: 'posts', id: data.posts[1]!.id, data: { author: data.authors[0]!.id } })
      await expectStillServed(read, before)
    })

    describe('document stamps: a findOne by id depends on its own document', () => {
      const byID = (id: number | string) => (p: Payload) => p.findByID({ collection: 'posts', id, depth: 0 })
      const stampMode = env.strategy === 'stamp'

      it('editing one post leaves another post’s findByID served from KV, and its own read fresh', async () => {
        const other = byID(data.posts[2]!.id)
        const edited = byID(data.posts[3]!.id)
        const before = await warm(other)
        await warm(edited)
        await pair.cached.update({ collection: 'posts', id: data.posts[3]!.id, data: { views: 41 } })
        await pair.cache.settled()
        log.reset()
        expect(await other(pair.cached)).toStrictEqual(before)
        if (stampMode) expect(log.reads).toEqual([])
        expect(before).toStrictEqual(await other(pair.plain))
        expect((await expectFresh(edited)).views).toBe(41)
      })

      it('a find of the collection still sees every write (lists depend on the collection stamp)', async () => {
        const list = (p: Payload) => p.find({ collection: 'posts', depth: 0, sort: 'title', where: { views: { equals: 42 } } })
        await warm(list)
        await pair.cached.update({ collection: 'posts', id: data.posts[4]!.id, data: { views: 42 } })
        expect((await expectFresh(list)).totalDocs).toBeGreaterThan(0)
      })

      it('updateMany, which names no documents, is seen by every findByID', async () => {
        const read = byID(data.posts[5]!.id)
        await warm(read)
        await pair.cached.db.updateMany({ collection: 'posts', where: { id: { in: [data.posts[5]!.id] } }, data: { views: 77 } })
        expect((await expectFresh(read)).views).toBe(77)
      })

      it('a write behind Payload, then kvCache.invalidate(), is seen by findByID', async () => {
        const read = byID(data.posts[2]!.id)
        await warm(read)
        await pair.plain.update({ collection: 'posts', id: data.posts[2]!.id, data: { views: 13 } })
        await pair.cache.invalidate({ collections: ['posts'] })
        expect((await expectFresh(read)).views).toBe(13)
      })

      it('a findOne by id that follows a relationship depends on the related collection, not only its document', async () => {
        const post = data.posts[0]!.id
        const read = (p: Payload) =>
          p.db.findOne({ collection: 'posts', where: { and: [{ id: { equals: post } }, { 'author.name': { equals: 'Ada' } }] } })
        await pair.cached.update({ collection: 'posts', id: post, data: { author: data.authors[0]!.id } })
        expect(await warm(read)).not.toBeNull()
        // The author is renamed: the same post no longer matches.
        await pair.cached.update({ collection: 'authors', id: data.authors[0]!.id, data: { name: 'Ada L.' } })
        expect(await expectFresh(read)).toBeNull()
        await pair.cached.update({ collection: 'authors', id: data.authors[0]!.id, data: { name: 'Ada' } })
      })

      it('deleting a comment that others reply to and quote is seen by their findByID (SQL: foreign keys set null, rels rows cascade)', async () => {
        const parent = await pair.cached.create({ collection: 'comments', data: { text: 'parent' } })
        const reply = await pair.cached.create({ collection: 'comments', data: { text: 'reply', replyTo: parent.id, quotes: [parent.id] } })
        const read = (p: Payload) => p.findByID({ collection: 'comments', id: reply.id, depth: 0 })
        expect((await warm(read)).replyTo).toBe(parent.id)
        await pair.cached.delete({ collection: 'comments', id: parent.id })
        const after = await expectFresh(read)
        if (env.kind !== 'mongodb') expect([after.replyTo, after.quotes]).toStrictEqual([null, []])
      })

      it('an id spelled another way than the database returns it (0-padded, upper-case) shares no stale entry with the canonical one', async () => {
        const note = await pair.cached.create({ collection: 'notes', data: { text: 'v1' } })
        const other = env.kind === 'mongodb' ? String(note.id).toUpperCase() : `0${note.id}`
        const read = (p: Payload) => p.findByID({ collection: 'notes', id: other, depth: 0 })
        expect((await warm(read)).text).toBe('v1')
        await pair.cached.update({ collection: 'notes', id: note.id, data: { text: 'v2' } })
        expect((await expectFresh(read)).text).toBe('v2')
        // And the other way round: a write made with the odd spelling, a read with the canonical id.
        const canonical = (p: Payload) => p.findByID({ collection: 'notes', id: note.id, depth: 0 })
        await warm(canonical)
        await pair.cached.db.updateOne({ collection: 'notes', id: other, data: { text: 'v3' } })
        expect((await expectFresh(canonical)).text).toBe('v3')
      })

      it('a bulk edit by where (one updateOne per document) folds its document stamps into the bulk stamp past DOCUMENT_STAMPS_PER_SECOND, and every findByID sees it', async () => {
        // Its own pair, with transactions where the database has them: Payload runs the edit in
        // one, so every document stamp is bumped at its commit, at one instant.
        let local: ReturnType<typeof countingKV>
        const bulk = await env.newPair({ transactions: true, wrapKV: (kv) => (local = countingKV(kv)) })
        const count = DOCUMENT_STAMPS_PER_SECOND * 2
        const notes = []
        for (let i = 0; i < count; i++) notes.push(await bulk.cached.create({ collection: 'notes', data: { text: `bulk ${i}` } }))
        const reads = [notes[0]!, notes[count - 1]!].map(
          (note) => (p: Payload) => p.findByID({ collection: 'notes', id: note.id, depth: 0 }),
        )
        for (const read of reads) {
          await bulk.cache.settled()
          await read(bulk.cached)
          await bulk.cache.settled()
        }
        const hits = bulk.cache.stats().hits
        for (const read of reads) await read(bulk.cached)
        expect(bulk.cache.stats().hits).toBe(hits + reads.length)
        const putsBefore = local!.puts.length
        const edited = await bulk.cached.update({ collection: 'notes', where: { text: { like: 'bulk ' } }, data: { text: 'bulk edited' } })
        expect(edited.docs).toHaveLength(count)
        await bulk.cache.settled()
        for (const read of reads) {
          const after = await read(bulk.cached)
          expect(after).toStrictEqual(await read(bulk.plain))
          expect(after.text).toBe('bulk edited')
        }
        // D1 has no transactions (nor a standalone MongoDB): there each update bumps on its own,
        // and how many fall within one second depends on the machine.
        if (env.strategy === 'stamp' && (env.kind === 'sqlite' || env.kind === 'postgres')) {
          const puts = local!.puts.slice(putsBefore)
          expect(puts.filter((key) => key.includes(':c:notes#=')).length).toBeLessThanOrEqual(DOCUMENT_STAMPS_PER_SECOND)
          expect(puts.some((key) => key.endsWith(':c:notes#*'))).toBe(true)
        }
      })

      if (env.kind !== 'mongodb')
        it('an id read before its document existed (not found, cached) sees the create', async () => {
          // SQL ids count up: the next note gets the id after this one.
          const probe = await pair.cached.create({ collection: 'notes', data: { text: 'probe' } })
          const id = Number(probe.id) + 1
          const read = (p: Payload) => p.db.findOne({ collection: 'notes', where: { id: { equals: id } } })
          expect(await warm(read)).toBeNull()
          const created = await pair.cached.create({ collection: 'notes', data: { text: 'born later' } })
          expect(created.id).toBe(id)
          expect(await expectFresh(read)).toMatchObject({ id, text: 'born later' })
        })
    })

    it('a chain A → B → C: renaming C changes which A match through B', async () => {
      const category = data.categories[0]!
      await pair.cached.update({ collection: 'authors', id: data.authors[0]!.id, data: { favourite: category.id } })
      const read = (p: Payload) =>
        p.find({ collection: 'posts', depth: 0, sort: 'title', where: { 'author.favourite.title': { equals: category.title } } })
      const before = await warm(read)
      expect(before.totalDocs).toBeGreaterThan(0)
      await pair.cached.update({ collection: 'categories', id: category.id, data: { title: `${category.title} renamed` } })
      const after = await expectFresh(read)
      expect(after.totalDocs).toBe(0)
      await pair.cached.update({ collection: 'categories', id: category.id, data: { title: category.title } })
    })

    it('a polymorphic join sees writes to each of its collections', async () => {
      const author = data.authors[1]!
      const read = (p: Payload) => p.findByID({ collection: 'authors', id: author.id, depth: 0, joins: { posts: false } })
      const before = await warm(read)
      const comment = await pair.cached.create({ collection: 'comments', data: { text: 'by grace', author: author.id } })
      const withNote = await expectFresh(read)
      expect(withNote.everything?.docs?.length).toBe((before.everything?.docs?.length ?? 0) + 1)
      await warm(read)
      await pair.cached.delete({ collection: 'comments', id: comment.id })
      const without = await expectFresh(read)
      expect(without.everything?.docs?.length).toBe(before.everything?.docs?.length ?? 0)
    })

    it('a delete nulls foreign keys in a collection that is not cached itself but is traversed by cached reads', async () => {
      const local = await env.newPair({ collections: { authors: false } })
      const category = await local.cached.create({ collection: 'categories', data: { title: 'Doomed' } })
      const author = await local.cached.create({ collection: 'authors', data: { name: 'Fan', favourite: category.id } })
      await local.cached.create({ collection: 'comments', data: { text: 'By a fan', author: author.id } })
      // Reads authors' own favourite column, not categories: depends on comments and authors only.
      const read = (p: Payload) => p.find({ collection: 'comments', depth: 0, where: { 'author.favourite': { exists: true } } })
      await local.cache.settled()
      await read(local.cached)
      await local.cache.settled()
      expect((await read(local.cached)).totalDocs).toBe(1)
      await local.cached.delete({ collection: 'categories', id: category.id })
      const after = await read(local.cached)
      expect(after).toStrictEqual(await read(local.plain))
    })

    /** What the strategy writes to invalidate: stamp keys put, or key prefixes listed. */
    const invalidations = (): string[] => (env.strategy === 'stamp' ? counted.puts.filter((key) => key.includes(':stamp:')) : counted.lists)

    it('a write to an unrelated collection invalidates nothing else', async () => {
      const read = (p: Payload) => p.find({ collection: 'posts', depth: 0, sort: 'title' })
      await warm(read)
      const before = invalidations().length
      const deletesBefore = counted.deletes.length
      await pair.cached.create({ collection: 'notes', data: { text: 'unrelated' } })
      await pair.cache.settled()
      // Besides the collection's stamp, only the notes' own finer stamps (documents, membership), in any slot.
      const all = invalidations().slice(before)
      expect(all.filter((key) => key.includes(':stamp:') && !/:stamp:([0-9]+:)?c:notes#/.test(key))).toEqual(
        all.filter((key) => key.includes(':stamp:') && !key.includes('#')),
      )
      // Prefix: also the entries of payload-locked-documents, whose polymorphic `document`
      // relationship reaches every collection, cached or not here: another deploy may cache them.
      const written = all.filter((key) => !key.includes('#') && !key.includes(':c:payload-locked-documents:'))
      expect(written).toHaveLength(1)
      expect(written[0]).toMatch(env.strategy === 'stamp' ? /:stamp:([0-9]+:)?c:notes$/ : /:c:notes:$/)
      expect(counted.deletes.slice(deletesBefore).every((key) => key.includes(':c:notes:'))).toBe(true)
      log.reset()
      await read(pair.cached)
      expect(log.reads).toEqual([])
    })

    it('a write to a collection this deploy does not cache bumps its own stamps only, for deploys that may cache it', async () => {
      const before = invalidations().length
      await pair.cached.jobs.queue({ task: 'noop', input: {} })
      await pair.cached.db.updateJobs({ where: {}, data: { processing: false }, req: {} })
      await pair.cache.settled()
      const written = invalidations().slice(before)
      // The stamp strategy: the collection's and its bulk stamp (README, Across deploys); the
      // prefix strategy: its own entries listed. Never another collection's.
      expect(written.length).toBeGreaterThan(0)
      for (const key of written)
        expect(key).toMatch(env.strategy === 'stamp' ? /:stamp:([0-9]+:)?c:payload-jobs(#\*)?$/ : /:c:payload-jobs:$/)
    })
  })
}
