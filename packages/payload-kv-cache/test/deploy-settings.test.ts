import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { closePayload } from '@pkc/testkit'
import type { CollectionConfig, Field, Payload } from 'payload'
import type { WithKVCache } from '../src/index.js'
import { withKVCache } from '../src/index.js'
import { withTestHooks } from '../src/internals.js'
import type { Database, DatabaseKind } from './support/app.js'
import { siteCollections, startPayload } from './support/app.js'
import { skippingClock } from './support/clock.js'
import { useTestEnv } from './support/env.js'

/**
 * Two deploys of one site live at once (a gradual rollout), sharing one KV prefix and one
 * database, that differ in a setting the adapter applies when the call does not say: each
 * must read what its own config makes the database answer, never the other's entry for the
 * same call (issue 21, item 2). The settings here change no table, so both deploys can run on
 * one database; the fingerprint's unit test covers the ones that do.
 */

type Collections = () => CollectionConfig[]

const withCollection =
  (slug: string, change: (c: CollectionConfig) => CollectionConfig): Collections =>
  () =>
    siteCollections().map((c) => (c.slug === slug ? change(c) : c))

const withJoinField = (change: (f: Field) => Field): Collections =>
  withCollection('authors', (c) => ({ ...c, fields: c.fields.map((f) => ('name' in f && f.name === 'posts' ? change(f) : f)) }))

/** Reads that carry no sort or join limit, so the adapter applies the config's. */
const reads: Record<string, (p: Payload, ids: { author: number | string }) => Promise<unknown>> = {
  'find notes': (p) => p.find({ collection: 'notes', depth: 0 }),
  'find authors (joins)': (p) => p.find({ collection: 'authors', depth: 0 }),
  'findByID author (joins)': (p, ids) => p.findByID({ collection: 'authors', id: ids.author, depth: 0 }),
}

/** Each setting, deploy B's collections, and the reads whose answer it shapes. */
const settings: [string, Collections, (keyof typeof reads)[]][] = [
  ["a collection's defaultSort", withCollection('notes', (c) => ({ ...c, defaultSort: 'text' })), ['find notes']],
  [
    "a join field's defaultLimit",
    withJoinField((f) => ({ ...f, defaultLimit: 1 }) as Field),
    ['find authors (joins)', 'findByID author (joins)'],
  ],
  [
    "a join field's defaultSort",
    withJoinField((f) => ({ ...f, defaultSort: 'views' }) as Field),
    ['find authors (joins)', 'findByID author (joins)'],
  ],
]

const kinds: DatabaseKind[] = ['sqlite', 'postgres']

for (const kind of kinds) {
  describe(`two deploys that differ in a default the adapter applies (${kind})`, () => {
    const prefix = `deploys-${kind}`
    let database: Database
    let wrappedA: WithKVCache<ReturnType<Database['adapter']>>
    let deployA: Payload
    let plainA: Payload
    // One clock for every deploy, as isolates share wall time: a burst horizon one deploy's
    // skipped sleeps put ahead of another's clock would keep that one off the cache.
    const clock = skippingClock()
    const ids = { author: 0 as number | string }
    const started: Payload[] = []

    // Declared before the servers' own afterAll, so it runs first: Payloads close before their
    // database stops under them.
    afterAll(async () => {
      await wrappedA?.kvCache.settled()
      for (const payload of started.reverse()) await closePayload(payload)
    })
    const env = useTestEnv(kind)

    // List precision off: then a list's entry is signed by the same stamps in both deploys, and
    // only its key tells them apart. (With it on, a sort the config supplies is among the
    // field stamps the list depends on, so for a collection's defaultSort the signatures
    // differ by chance of the dependencies; the join cases fail without the key either way.)
    // Only the first instance pushes the schema: the settings here change no table.
    const adapter = () => database.adapter(started.length > 0 ? { push: false } : {})

    const deploy = async (collections: CollectionConfig[]) => {
      const wrapped = withKVCache(adapter(), withTestHooks({ kv: env.kv(), prefix, listPrecision: false }, { clock }))
      const payload = await startPayload(wrapped, { collections })
      started.push(payload)
      return { wrapped, payload }
    }

    const plain = async (collections: CollectionConfig[]) => {
      const payload = await startPayload(adapter(), { collections })
      started.push(payload)
      return payload
    }

    beforeAll(async () => {
      database = await env.newDatabase()
      ;({ wrapped: wrappedA, payload: deployA } = await deploy(siteCollections()))
      plainA = await plain(siteCollections())
      // Created in an order no setting above sorts by: each default gives its own answer.
      for (const text of ['c', 'a', 'b']) await deployA.create({ collection: 'notes', data: { text } })
      const author = await deployA.create({ collection: 'authors', data: { name: 'Ada' } })
      ids.author = author.id
      for (const views of [2, 9, 5]) await deployA.create({ collection: 'posts', data: { title: `p${views}`, views, author: author.id } })
      await wrappedA.kvCache.settled()
      // Past the burst horizon those writes set, which keeps every other isolate (deploy B)
      // off the scopes until then: B must read through the cache for the test to mean anything.
      await clock.sleep(10_000)
    })

    it.each(settings)('%s: each deploy reads its own answer after the other filled the cache', async (_, collections, shaped) => {
      const { wrapped: wrappedB, payload: deployB } = await deploy(collections())
      const plainB = await plain(collections())
      for (const name of shaped) {
        const read = reads[name]!
        const truthA = await read(plainA, ids)
        const truthB = await read(plainB, ids)
        // The setting shapes this answer, or the comparison proves nothing.
        expect([name, truthB]).not.toStrictEqual([name, truthA])

        // A fills, then B reads the same call: B's own answer, not A's entry.
        await read(deployA, ids)
        await wrappedA.kvCache.settled()
        expect([name, await read(deployB, ids)]).toStrictEqual([name, truthB])
        await wrappedB.kvCache.settled()
        // The other way round, with B's entry now in KV.
        expect([name, await read(deployA, ids)]).toStrictEqual([name, truthA])
        // And each still caches its own: a second read is a hit with its own answer.
        const hits = wrappedB.kvCache.stats().hits
        expect([name, await read(deployB, ids)]).toStrictEqual([name, truthB])
        expect(wrappedB.kvCache.stats().hits).toBe(hits + 1)
      }
    })
  })
}
