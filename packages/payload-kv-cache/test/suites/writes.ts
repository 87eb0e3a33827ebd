import { beforeAll, describe, expect, it } from '@jest/globals'
import type { Payload } from 'payload'
import type { Pair } from '../support/app.js'
import { missingFeatures } from '../support/app.js'
import type { TestEnv } from '../support/env.js'
import type { Seed } from '../support/seed.js'
import { seed } from '../support/seed.js'
import type { CallLog } from '../support/spy.js'
import { spyOnDatabase } from '../support/spy.js'

/** The adapter methods these cases call, named so each call type-checks without a possibly-undefined lookup. */
type DbMethod =
  | 'count'
  | 'create'
  | 'createGlobal'
  | 'createGlobalVersion'
  | 'createVersion'
  | 'deleteMany'
  | 'deleteOne'
  | 'deleteVersions'
  | 'find'
  | 'findGlobal'
  | 'findGlobalVersions'
  | 'findVersions'
  | 'updateGlobal'
  | 'updateGlobalVersion'
  | 'updateJobs'
  | 'updateMany'
  | 'updateOne'
  | 'updateVersion'
  | 'upsert'
type Db = Record<DbMethod, (args: Record<string, unknown>) => Promise<any>>
const db = (payload: Payload): Db => payload.db as unknown as Db
const now = () => new Date().toISOString()

interface WriteCase {
  method: string
  /** Runs through Payload with the cache: what the write must change. */
  read: (payload: Payload, data: Seed) => Promise<unknown>
  write: (payload: Payload, data: Seed, before: any) => Promise<unknown>
  /** What must be true of the read after the write. */
  expectChange: (after: any, before: any) => void
}

/** Every write method: read (cached), write, read again: the new data, equal to the database. */
export function writeSuite(env: TestEnv): void {
  describe('writes', () => {
    let pair: Pair
    let data: Seed
    let log: CallLog

    beforeAll(async () => {
      pair = await env.newPair({ collections: { 'payload-jobs': true } })
      data = await seed(pair.cached)
      log = spyOnDatabase(pair.cached)
    })

    const notes = (p: Payload) => db(p).find({ collection: 'notes', sort: 'text', pagination: false })
    const noteCount = (text: string) => (p: Payload) => db(p).count({ collection: 'notes', where: { text: { equals: text } } })
    const versionsOf = (index: number) => (p: Payload, d: Seed) =>
      db(p).findVersions({ collection: 'posts', where: { parent: { equals: d.posts[index]!.id } }, sort: '-updatedAt', limit: 50 })
    const globalVersions = (p: Payload) => db(p).findGlobalVersions({ global: 'settings', sort: '-updatedAt', limit: 50 })

    const cases: WriteCase[] = [
      {
        method: 'create',
        read: notes,
        write: (p) => db(p).create({ collection: 'notes', data: { text: 'a-created' } }),
        expectChange: (after) => expect(after.docs.map((d: any) => d.text)).toContain('a-created'),
      },
      {
        method: 'updateOne',
        read: notes,
        write: (p, _, before) => db(p).updateOne({ collection: 'notes', id: before.docs[0].id, data: { text: 'b-updated' } }),
        expectChange: (after) => expect(after.docs.map((d: any) => d.text)).toEqual(['b-updated']),
      },
      {
        method: 'updateMany',
        read: notes,
        write: async (p) => {
          await db(p).create({ collection: 'notes', data: { text: 'c-second' } })
          await pair.cached.find({ collection: 'notes' })
          return db(p).updateMany({ collection: 'notes', where: { text: { exists: true } }, data: { text: 'd-many' } })
        },
        expectChange: (after) => expect(after.docs.map((d: any) => d.text)).toEqual(['d-many', 'd-many']),
      },
      {
        method: 'upsert',
        read: noteCount('e-upserted'),
        write: (p) => db(p).upsert({ collection: 'notes', where: { text: { equals: 'e-upserted' } }, data: { text: 'e-upserted' } }),
        expectChange: (after, before) => {
          expect(before.totalDocs).toBe(0)
          // db-d1-sqlite's upsert only updates: the cache shows what the database did.
          expect(after.totalDocs).toBe(missingFeatures(env.kind).upsertInserts ? 0 : 1)
        },
      },
      {
        method: 'deleteOne',
        read: noteCount('e-upserted'),
        write: (p) => db(p).deleteOne({ collection: 'notes', where: { text: { equals: 'e-upserted' } } }),
        expectChange: (after) => expect(after.totalDocs).toBe(0),
      },
      {
        method: 'deleteMany',
        read: notes,
        write: (p) => db(p).deleteMany({ collection: 'notes', where: { text: { equals: 'd-many' } } }),
        expectChange: (after, before) => {
          expect(before.docs).toHaveLength(2)
          expect(after.docs).toHaveLength(0)
        },
      },
      {
        method: 'createVersion',
        read: versionsOf(0),
        write: (p, d) =>
          db(p).createVersion({
            collectionSlug: 'posts',
            parent: d.posts[0]!.id,
            versionData: { title: 'version by hand', _status: 'draft' },
            autosave: false,
            createdAt: now(),
            updatedAt: now(),
          }),
        expectChange: (after, before) => expect(after.totalDocs).toBe(before.totalDocs + 1),
      },
      {
        method: 'updateVersion',
        read: versionsOf(0),
        write: (p, _, before) =>
          db(p).updateVersion({
            collection: 'posts',
            id: before.docs[0].id,
            versionData: { ...before.docs[0], version: { ...before.docs[0].version, body: 'version edited' } },
          }),
        expectChange: (after) => expect(after.docs[0].version.body).toBe('version edited'),
      },
      {
        method: 'deleteVersions',
        read: versionsOf(0),
        write: (p, d) => db(p).deleteVersions({ collection: 'posts', where: { parent: { equals: d.posts[0]!.id } } }),
        expectChange: (after, before) => {
          expect(before.totalDocs).toBeGreaterThan(0)
          expect(after.totalDocs).toBe(0)
        },
      },
      {
        method: 'createGlobal',
        read: (p) => db(p).findGlobal({ slug: 'banner' }),
        write: (p) => db(p).createGlobal({ slug: 'banner', data: { text: 'hello' } }),
        expectChange: (after) => expect(after.text).toBe('hello'),
      },
      {
        method: 'updateGlobal',
        read: (p) => db(p).findGlobal({ slug: 'banner' }),
        write: (p) => db(p).updateGlobal({ slug: 'banner', data: { text: 'goodbye' } }),
        expectChange: (after) => expect(after.text).toBe('goodbye'),
      },
      {
        method: 'createGlobalVersion',
        read: globalVersions,
        write: (p) =>
          db(p).createGlobalVersion({
            globalSlug: 'settings',
            versionData: { siteName: 'by hand', _status: 'draft' },
            autosave: false,
            createdAt: now(),
            updatedAt: now(),
          }),
        expectChange: (after, before) => expect(after.totalDocs).toBe(before.totalDocs + 1),
      },
      {
        method: 'updateGlobalVersion',
        read: globalVersions,
        write: (p, d, before) =>
          db(p).updateGlobalVersion({
            global: 'settings',
            id: before.docs[0].id,
            versionData: { ...before.docs[0], version: { ...before.docs[0].version, featured: d.posts[3]!.id } },
          }),
        expectChange: (after) => expect(after.docs[0].version.featured).toBe(data.posts[3]!.id),
      },
      {
        method: 'updateJobs',
        read: (p) => db(p).find({ collection: 'payload-jobs', sort: 'createdAt', pagination: false }),
        write: async (p, _, before) => db(p).updateJobs({ id: before.docs[0].id, data: { processing: true }, req: {} }),
        expectChange: (after) => expect(after.docs[0].processing).toBe(true),
      },
    ]

    it.each(cases.map((c) => [c.method, c] as const))('%s: a cached read sees the write at once', async (method, c) => {
      if (method === 'updateJobs') await pair.cached.jobs.queue({ task: 'noop', input: {} })
      // Warm the entry and prove it is served from KV.
      await c.read(pair.cached, data)
      await pair.cache.settled()
      log.reset()
      const before = await c.read(pair.cached, data)
      expect(log.reads).toEqual([])

      await c.write(pair.cached, data, before)
      expect(log.writes.some((call) => call.startsWith(`${method}:`))).toBe(true)

      const after = await c.read(pair.cached, data)
      expect(after).toStrictEqual(await c.read(pair.plain, data))
      c.expectChange(after, before)
      await pair.cache.settled()
    })
  })
}
