import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { closePayload, random } from '@pkc/testkit'
import type { Payload } from 'payload'
import type { KVNamespaceLike, WithKVCache } from '../src/index.js'
import { withKVCache } from '../src/index.js'
import { withTestHooks } from '../src/internals.js'
import { KV_LIMITS } from '../src/kv.js'
import { strictlyEqual } from '../src/equality.js'
import type { Database } from './support/app.js'
import { startPayload } from './support/app.js'
import { ManualClock } from './support/clock.js'
import { edgeKV } from './support/edge.js'
import { hangingPuts } from './support/faults.js'
import type { Invocation } from './support/invocations.js'
import { budgeted, inInvocation } from './support/invocations.js'
import { useTestEnv } from './support/env.js'

/**
 * KV as production runs it, and as it does not (README *Write bursts* and *Limits*): two
 * wrapped Payload instances (isolates) share one database (SQLite without transactions, as
 * D1 runs) and one real Miniflare namespace, wrapped to behave as
 *
 * - Miniflare does: every put is accepted, a second put to a key within a second too;
 * - production does: a second put to a key within a second is refused with a 429;
 * - a KV whose puts hang past the cache's timeout (some land later, some never);
 * - Workers do: 1,000 KV operations per invocation (reads included), each step of the walk
 *   one invocation, with what it leaves in the background (fills, trailing stamp writes).
 *
 * A seeded random walk of reads and writes through both isolates, time on a manual clock
 * shared by both; every read through an isolate is compared strictly with the database.
 * `PKC_SEED` replays a walk, `PKC_KV_STEPS` sets its length.
 */
const env = useTestEnv('sqlite')
const SEED = process.env.PKC_SEED ? Number(process.env.PKC_SEED) : 20261207
const STEPS = Number(process.env.PKC_KV_STEPS ?? 300)

type Adapter = WithKVCache<ReturnType<Database['adapter']>>

interface Isolate {
  name: string
  payload: Payload
  adapter: Adapter
}

type Wrap = 'as-is' | 'refusing' | 'hanging' | 'budget'

interface WalkResult {
  reads: number
  stale: string[]
  hits: number
  writes: number
}

describe('KV semantics: two isolates on one database and one KV', () => {
  let database: Database
  let plain: Payload
  const started: Isolate[] = []
  let prefixes = 0

  beforeAll(async () => {
    database = await env.newDatabase()
    plain = await startPayload(database.adapter())
  })

  afterAll(async () => {
    for (const { payload } of started) await closePayload(payload)
    await closePayload(plain)
  })

  async function twoIsolates(kv: KVNamespaceLike, clock: ManualClock, options: { kvTimeoutMs?: number } = {}): Promise<[Isolate, Isolate]> {
    const prefix = `sem${prefixes++}`
    const start = async (name: string): Promise<Isolate> => {
      const adapter = withKVCache(database.adapter(), withTestHooks({ kv, prefix, ...options }, { clock }))
      const isolate = { name, payload: await startPayload(adapter), adapter }
      started.push(isolate)
      return isolate
    }
    return [await start('a'), await start('b')]
  }

  /**
   * The walk. Writes concentrate on a few posts and their author, so that bursts of more
   * than a stamp's slots a second happen through both isolates; reads are the ones every
   * posts write invalidates (versions lists, the authors' join, counts) and the ones that
   * depend on one document.
   */
  async function walk(
    isolates: readonly Isolate[],
    clock: ManualClock,
    steps: number,
    seedValue: number,
    hooks: { afterStep?: () => Promise<void>; invocation?: boolean } = {},
  ): Promise<WalkResult> {
    const rnd = random(seedValue)
    const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!
    const authors = []
    for (let i = 0; i < 2; i++) authors.push(await plain.create({ collection: 'authors', data: { name: `author ${i}` } }))
    const posts = []
    for (let i = 0; i < 4; i++)
      posts.push(await plain.create({ collection: 'posts', data: { title: `post ${i}`, author: authors[i % 2]!.id, views: i } }))
    const ids = posts.map((post) => post.id)
    const authorIDs = authors.map((author) => author.id)
    // Each read picks its document once: the isolate and the database are asked the same.
    const reads: Array<[string, () => (payload: Payload) => Promise<unknown>]> = [
      [
        'findByID post',
        () => {
          // The first posts: read again and again, so that entries are filled and hit.
          const id = pick(ids.slice(0, 2))
          return (payload) => payload.findByID({ collection: 'posts', id, depth: 0 })
        },
      ],
      ['find posts', () => (payload) => payload.find({ collection: 'posts', sort: 'id', depth: 0, limit: 10 })],
      ['count posts', () => (payload) => payload.count({ collection: 'posts' })],
      ['findVersions posts', () => (payload) => payload.findVersions({ collection: 'posts', depth: 0, sort: '-id', limit: 10 })],
      ['find authors (joins)', () => (payload) => payload.find({ collection: 'authors', sort: 'id', depth: 0 })],
      [
        'findByID author (joins)',
        () => {
          const id = pick(authorIDs)
          return (payload) => payload.findByID({ collection: 'authors', id, depth: 0 })
        },
      ],
    ]
    const asStep = <T>(work: () => Promise<T>): Promise<T> => (hooks.invocation ? inInvocation(work) : work())

    const result: WalkResult = { reads: 0, stale: [], hits: 0, writes: 0 }
    const hitsBefore = isolates.reduce((sum, isolate) => sum + isolate.adapter.kvCache.stats().hits, 0)
    const spent = { write: 0, read: 0, other: 0 }
    let mark = Date.now()
    const lap = (what: keyof typeof spent) => {
      spent[what] += Date.now() - mark
      mark = Date.now()
    }
    let step = 0
    const write = async (isolate: Isolate): Promise<void> => {
      result.writes++
      const r = rnd()
      const id = pick(ids)
      const at = step
      const run =
        r < 0.75
          ? () => isolate.payload.update({ collection: 'posts', id, data: { title: `s${at}`, views: at } })
          : r < 0.85
            ? () => isolate.payload.update({ collection: 'posts', id, data: { author: pick(authorIDs) } })
            : r < 0.95
              ? async () => {
                  const post = await isolate.payload.create({ collection: 'posts', data: { title: `new ${at}`, author: pick(authorIDs) } })
                  ids.push(post.id)
                  return post
                }
              : () => isolate.payload.update({ collection: 'authors', id: pick(authorIDs), data: { name: `a${at}` } })
      await clock.waitFor(asStep(run))
      lap('write')
    }
    const read = async (isolate: Isolate, pair: [string, (payload: Payload) => Promise<unknown>]): Promise<void> => {
      const [name, run] = pair
      result.reads++
      const seen = await asStep(() => run(isolate.payload))
      const truth = await run(plain)
      if (!strictlyEqual(seen, truth)) result.stale.push(`step ${step}: ${name} through ${isolate.name}`)
      lap('read')
    }
    const afterStep = async (): Promise<void> => {
      step++
      await hooks.afterStep?.()
      await clock.advance(Math.floor(rnd() * 60))
      lap('other')
    }
    // Rounds of random length and order: one isolate writes (a burst, often), the other may
    // write too, reads through both, more writes, the same reads again (hits of what was
    // filled meanwhile), then a pause of up to two seconds. Half the reads are the ones every
    // posts write invalidates through the collection's stamp (versions, joins).
    while (step < steps) {
      const [x, y] = rnd() < 0.5 ? [isolates[0]!, isolates[1]!] : [isolates[1]!, isolates[0]!]
      const chosen = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => {
        const [name, make] = rnd() < 0.5 ? pick(reads.slice(3, 5)) : pick(reads)
        return [name, make()] as [string, (payload: Payload) => Promise<unknown>]
      })
      for (let i = Math.floor(rnd() * 4); i > 0; i--) {
        await write(x)
        await afterStep()
      }
      if (rnd() < 0.5) {
        await write(y)
        await afterStep()
      }
      for (const pair of chosen) {
        await read(rnd() < 0.7 ? y : x, pair)
        await afterStep()
      }
      for (let i = Math.floor(rnd() * 3); i > 0; i--) {
        await write(rnd() < 0.7 ? x : y)
        await afterStep()
      }
      for (const pair of chosen) {
        await read(rnd() < 0.7 ? y : x, pair)
        await afterStep()
      }
      await clock.advance(Math.floor(rnd() * 2000))
    }
    if (process.env.PKC_KV_TIMING) {
      console.log(`ms spent: ${JSON.stringify(spent)}`)
      for (const isolate of isolates) {
        const t = isolate.adapter.kvCache.breakdown().totals
        console.log(
          isolate.name,
          JSON.stringify({
            hits: t.hits,
            misses: t.misses,
            stale: t.stale,
            pending: t.bypassesPending,
            burst: t.bypassesBurst,
            stampWrites: t.stampWrites,
            coalesced: t.stampsCoalesced,
          }),
        )
      }
    }
    await clock.until(Promise.all(isolates.map((isolate) => isolate.adapter.kvCache.settled())))
    result.hits = isolates.reduce((sum, isolate) => sum + isolate.adapter.kvCache.stats().hits, 0) - hitsBefore
    return result
  }

  const report = (wrap: Wrap, result: WalkResult): void =>
    console.log(
      `${wrap}: ${result.writes} writes, ${result.reads} reads, ${result.hits} hits, ${result.stale.length} stale${result.stale.length ? `: ${result.stale.slice(0, 5).join('; ')}` : ''}`,
    )

  it('(a) Miniflare as it is, accepting a second put to a key within a second: every read equals the database', async () => {
    const clock = new ManualClock(Date.now())
    const [a, b] = await twoIsolates(env.kv(), clock)
    const result = await walk([a, b], clock, STEPS, SEED)
    report('as-is', result)
    expect(result.reads).toBeGreaterThan(STEPS / 3)
    expect(result.hits).toBeGreaterThan(result.reads / 10)
    expect(result.stale).toEqual([])
  })

  it('(b) refusing a second put to a key within a second, as production does: every read equals the database', async () => {
    const clock = new ManualClock(Date.now())
    const edge = edgeKV(env.kv(), clock.now)
    const [a, b] = await twoIsolates(edge.location('here', 0), clock)
    const result = await walk([a, b], clock, STEPS, SEED + 1)
    report('refusing', result)
    expect(edge.rejected()).toBeGreaterThan(0)
    expect(result.hits).toBeGreaterThan(result.reads / 10)
    expect(result.stale).toEqual([])
  })

  it('(c) stamp puts that hang past the timeout (some land later, some never): every read equals the database', async () => {
    const clock = new ManualClock(Date.now())
    const slow = hangingPuts(env.kv(), 0.15, SEED + 2)
    // A short timeout: the hung puts are given up on in real time, quickly.
    const [a, b] = await twoIsolates(slow.kv, clock, { kvTimeoutMs: 30 })
    const result = await walk([a, b], clock, Math.round(STEPS / 2), SEED + 2, { afterStep: () => slow.tick() })
    report('hanging', result)
    expect(slow.hung).toBeGreaterThan(10)
    expect(result.stale).toEqual([])
  })

  it('(d) 1,000 KV operations per invocation, each step one: every read equals the database', async () => {
    const clock = new ManualClock(Date.now())
    const kv = budgeted(env.kv(), KV_LIMITS.operationsPerInvocation)
    const [a, b] = await twoIsolates(kv, clock)
    const result = await walk([a, b], clock, Math.round(STEPS / 2), SEED + 3, { invocation: true })
    report('budget', result)
    expect(result.stale).toEqual([])
  })

  it('(d) a bulk update by `where` in one invocation (the admin’s bulk edit on D1) stays within 1,000 KV operations, and the other isolate reads every document fresh after it returns', async () => {
    const clock = new ManualClock(Date.now())
    const kv = budgeted(env.kv(), KV_LIMITS.operationsPerInvocation)
    const [a, b] = await twoIsolates(kv, clock)
    const author = await plain.create({ collection: 'authors', data: { name: 'bulk author' } })
    const ids: Array<number | string> = []
    for (let i = 0; i < BULK_DOCUMENTS; i++)
      ids.push((await plain.create({ collection: 'posts', data: { title: `bulk ${i}`, author: author.id, body: 'bulk' } })).id)
    const where = { body: { equals: 'bulk' } }
    // One invocation per read, as one request each.
    const readAll = async (payload: Payload) => {
      const out: unknown[] = [
        await inInvocation(() => payload.find({ collection: 'posts', where, sort: 'id', depth: 0, limit: 0, pagination: false })),
      ]
      for (const id of ids) out.push(await inInvocation(() => payload.findByID({ collection: 'posts', id, depth: 0 })))
      return out
    }
    // B caches every document and the list.
    for (let i = 0; i < 2; i++) await readAll(b.payload)
    await clock.until(b.adapter.kvCache.settled())
    for (let round = 0; round < BULK_ROUNDS; round++) {
      // As the admin's bulk edit does it: Payload updates the documents one by one, and each
      // result is populated (its author, the author's joins) through the cache.
      const bulk: Invocation = { operations: 0 }
      await clock.waitFor(
        inInvocation(() => a.payload.update({ collection: 'posts', where, data: { title: `bulk round ${round}` } }), bulk),
      )
      const seen = await readAll(b.payload)
      const truth = await readAll(plain)
      const stale = seen.filter((value, i) => !strictlyEqual(value, truth[i])).length
      const totals = a.adapter.kvCache.breakdown().totals
      console.log(
        `bulk round ${round}: ${BULK_DOCUMENTS} documents, ${bulk.operations} KV operations in its invocation (at most ${kv.maxPerInvocation} in any), ${kv.refused} refused, ${stale} stale reads after it; the writer's stamp writes ${totals.stampWrites}, verified ${totals.stampsVerified}, folded ${totals.stampsFolded}, reads bypassed for the budget ${totals.bypassesBudget}, given up ${totals.stampFailures}; ${JSON.stringify({ hits: totals.hits, misses: totals.misses, fills: totals.fills, bypasses: totals.bypasses, pending: totals.bypassesPending, stale: totals.stale })}`,
      )
      expect(stale).toBe(0)
      await clock.until(Promise.all([a, b].map((isolate) => isolate.adapter.kvCache.settled())))
      await clock.advance(2000)
    }
    expect(kv.refused).toBe(0)
  }, 300_000)
})

/** Documents the bulk edit changes: enough that one KV operation per document would pass the budget. */
const BULK_DOCUMENTS = Number(process.env.PKC_BULK_DOCUMENTS ?? 150)
const BULK_ROUNDS = Number(process.env.PKC_BULK_ROUNDS ?? 1)
