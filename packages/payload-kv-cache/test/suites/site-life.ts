import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { closePayload, random } from '@pkc/testkit'
import type { Payload } from 'payload'
import type { KVCacheHandle, KVCacheOptions } from '../../src/index.js'
import { withKVCache } from '../../src/index.js'
import { withTestHooks } from '../../src/internals.js'
import { missingFeatures, startPayload } from '../support/app.js'
import { skippingClock } from '../support/clock.js'
import type { TestEnv } from '../support/env.js'
import type { Seed } from '../support/seed.js'
import { seed } from '../support/seed.js'
import { workload } from '../support/workload.js'

/**
 * A site's life (issue 21; README, Across deploys): deploys built with different cache
 * options, as a site's successive deploys are and as two versions are during a gradual
 * rollout, share one KV prefix and one database. Whatever each caches, a write through any of
 * them must reach every other's entries: which stamps a write bumps depends on the schema, not
 * on the writer's read options.
 */
const DEPLOYS: ReadonlyArray<readonly [string, Omit<KVCacheOptions, 'kv'>]> = [
  ['defaults', {}],
  ['posts not cached', { collections: { posts: false } }],
  ['no document stamps', { documentStamps: false }],
  ['no list precision', { listPrecision: false }],
  [
    'other TTLs, counts not cached, users cached',
    { ttl: 120, operations: { count: false }, collections: { authors: { ttl: 60 }, users: true } },
  ],
]

interface Deploy {
  name: string
  payload: Payload
  cache: KVCacheHandle
}

let sites = 0

export function siteLifeSuite(env: TestEnv, steps = 300): void {
  describe('a site’s life: deploys with different options on one KV and one database', () => {
    let deploys: Deploy[]
    let plain: Payload
    let data: Seed
    const byName = (name: string): Deploy => deploys.find((deploy) => deploy.name === name)!
    const settled = () => Promise.all(deploys.map((deploy) => deploy.cache.settled()))

    beforeAll(async () => {
      const database = await env.newDatabase()
      const prefix = `life${sites++}${Date.now().toString(36)}`
      // One clock for every deploy: isolates of one site read one time (clock skew is its own case).
      const clock = skippingClock()
      deploys = []
      for (const [name, options] of DEPLOYS) {
        const wrapped = withKVCache(database.adapter(), withTestHooks({ kv: env.kv(), prefix, ...options }, { clock }))
        deploys.push({ name, payload: await startPayload(wrapped), cache: wrapped.kvCache })
      }
      plain = await startPayload(database.adapter())
      data = await seed(deploys[0]!.payload)
      await settled()
    })

    afterAll(async () => {
      await settled()
      for (const deploy of deploys) await closePayload(deploy.payload)
      await closePayload(plain)
    })

    // The cases the issue names, each deterministic: the reader fills, another deploy writes,
    // the reader must see the write at once.
    for (const writer of ['posts not cached', 'no document stamps', 'no list precision']) {
      it(`a post edited by a deploy with ${writer} is seen by a deploy on the defaults: the post, a list and a count`, async () => {
        const reader = byName('defaults')
        const post = data.posts[0]!
        const author = (await plain.findByID({ collection: 'posts', id: post.id, depth: 0 })).author as number | string
        const reads = {
          post: (p: Payload) => p.findByID({ collection: 'posts', id: post.id, depth: 0 }),
          list: (p: Payload) => p.find({ collection: 'posts', where: { views: { equals: 3 } }, sort: 'title', limit: 5, depth: 0 }),
          count: (p: Payload) => p.count({ collection: 'posts', where: { author: { equals: author } } }),
        }
        for (const read of Object.values(reads)) await read(reader.payload)
        await settled()
        const hits = reader.cache.stats().hits
        for (const read of Object.values(reads)) await read(reader.payload)
        // Cached: the reads below test invalidation, not a miss.
        expect(reader.cache.stats().hits - hits).toBe(Object.keys(reads).length)
        const other = data.authors.find((candidate) => candidate.id !== author)!.id
        await byName(writer).payload.update({ collection: 'posts', id: post.id, data: { title: `By ${writer}`, views: 3, author: other } })
        for (const [name, read] of Object.entries(reads))
          expect({ name, value: await read(reader.payload) }).toStrictEqual({ name, value: await read(plain) })
        // Put back for the next case.
        await byName(writer).payload.update({ collection: 'posts', id: post.id, data: { title: post.title, views: 0, author } })
        await settled()
      })
    }

    it(`${steps} random operations, each write through a random deploy: every cached read of every deploy equals the database`, async () => {
      const seedValue = process.env.PKC_SEED ? Number(process.env.PKC_SEED) : Math.floor(Math.random() * 2 ** 31)
      const { next } = workload(seedValue, data, { findDistinct: !missingFeatures(env.kind).findDistinct })
      const rnd = random(seedValue + 1)
      const pick = () => deploys[Math.floor(rnd() * deploys.length)]!
      let reads = 0
      for (let step = 0; step < steps; step++) {
        const op = next()
        const deploy = pick()
        try {
          if (op.write) {
            await op.run(deploy.payload)
            continue
          }
          reads++
          const cached = await op.run(deploy.payload)
          const truth = await op.run(plain)
          expect(cached).toStrictEqual(truth)
          // Half the time let every deploy's fills land; otherwise they race the next step.
          if (rnd() < 0.5) await settled()
          expect(await op.run(deploy.payload)).toStrictEqual(truth)
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error)
          throw new Error(`site life failed: PKC_SEED=${seedValue} step=${step} deploy=${deploy.name} op=${op.name}\n${message}`)
        }
      }
      expect(reads).toBeGreaterThan(steps / 3)
      // The cache did work in every deploy: a run served from the database would prove nothing.
      for (const deploy of deploys)
        expect({ deploy: deploy.name, hit: deploy.cache.stats().hits > 0 }).toEqual({ deploy: deploy.name, hit: true })
    }, 360_000)
  })
}
