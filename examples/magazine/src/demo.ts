/**
 * The demo every example runs: the same read-heavy REST workload against Payload without and
 * with payload-kv-cache on one database, and what the cache saved.
 */
import { isDeepStrictEqual } from 'node:util'
import { closePayload, lookupsOf, mean, median, quantile } from '@pkc/testkit'
import type { DatabaseAdapterObj } from 'payload'
import { getPayload } from 'payload'
import { READ_OPERATIONS, unwrapAdapter, withKVCache } from 'payload-kv-cache'
import type { KVNamespaceLike } from 'payload-kv-cache'
import { siteConfig } from './config.js'
import { seed } from './seed.js'
import { serve } from './server.js'
import { workload } from './workload.js'

export interface DemoOptions {
  /** What the first line says the demo runs on. */
  title: string
  /** A `wrangler.jsonc` with a `CACHE` KV binding, served locally by getPlatformProxy. */
  wranglerConfig: string
  /** A fresh adapter on the demo database, each call (one for each Payload). */
  adapter: (options: { push: boolean }) => DatabaseAdapterObj
  /** Stops whatever the example started for its database. */
  stopDatabase?: () => Promise<void>
}

const REQUESTS = Number(process.env.DEMO_REQUESTS ?? 2000)
const log = (line: string) => process.stdout.write(`${line}\n`)

/** Runs the demo, prints the report, and exits the process (0 when every answer matched). */
export function runDemo(options: DemoOptions): void {
  main(options).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
      process.exit(1)
    },
  )
}

/**
 * The production model of the demo's latency row (a model, labelled as one): a database a
 * network hop from the Worker, as BENCHMARKS.md section 2's origin model, and a KV lookup
 * made inside workerd, one bulk `get` per adapter read (the bench measures 2-3 ms for a
 * bare get inside Miniflare's workerd; Cloudflare's hot reads are faster, so 1 ms if
 * anything overstates the cached side).
 */
const ORIGIN_MS = 20
const KV_GET_MS = 1

async function main(options: DemoOptions): Promise<number> {
  log(`payload-kv-cache demo: ${options.title}, without and with the cache`)
  const { getPlatformProxy } = await import('wrangler')
  // The KV binding from wrangler.jsonc, served locally by Miniflare (what `wrangler dev` runs).
  const platform = await getPlatformProxy<{ CACHE: KVNamespaceLike }>({ configPath: options.wranglerConfig, persist: false })
  const stops: Array<() => Promise<unknown>> = [() => platform.dispose()]
  if (options.stopDatabase) stops.push(options.stopDatabase)
  try {
    const plainConfig = siteConfig(options.adapter({ push: true }))
    // The schema is the same: one push is enough.
    const cachedConfig = siteConfig(withKVCache(options.adapter({ push: false }), { kv: platform.env.CACHE }))
    const plain = await getPayload({ config: plainConfig, key: 'plain', cron: false })
    const cached = await getPayload({ config: cachedConfig, key: 'cached', cron: false })
    stops.unshift(
      () => closePayload(plain),
      () => closePayload(cached),
    )
    const ids = await seed(plain)
    log(`seeded ${ids.posts.length} posts, ${ids.authors.length} authors, ${ids.categories.length} categories, 1 global`)

    const plainCalls = countReads(plain.db)
    const cachedCalls = countReads(unwrapAdapter(cached.db))
    const plainServer = await serve(plainConfig, 'plain')
    const cachedServer = await serve(cachedConfig, 'cached')
    stops.unshift(
      () => plainServer.close(),
      () => cachedServer.close(),
    )

    const steps = workload(ids, REQUESTS)
    const latency = { plain: [] as number[], cached: [] as number[] }
    // Per GET, what it would wait for in production (see ORIGIN_MS): its database calls and KV lookups.
    const modelled = { plain: [] as number[], cached: [] as number[] }
    let reads = 0
    let writes = 0
    let mismatches = 0
    let beforeImages = 0
    const lastAnswer = new Map<string, unknown>()
    let changedAnswers = 0
    let missedGets = 0
    // Adapter reads made while serving GETs: the writes' own reads are not the cache's to save.
    let hits = 0
    let lookups = 0
    log(
      `${steps.length} requests (${steps.filter((s) => s.kind === 'read').length} GETs; each also sent to the uncached server, and the answers compared)`,
    )
    for (const [i, step] of steps.entries()) {
      if (step.kind === 'write') {
        // An editor's save, in-process as the admin panel makes it: through the cached instance.
        // Its own reads are left out of the counts: the uncached side makes no writes.
        cachedCalls.counting = false
        const imagesBefore = cached.db.kvCache!.breakdown().totals.beforeImages
        await cached.update({ collection: 'posts', id: step.id, data: { views: step.views } })
        cachedCalls.counting = true
        // Except the row the cache reads before an update (list precision): that read is the cache's.
        beforeImages += cached.db.kvCache!.breakdown().totals.beforeImages - imagesBefore
        writes++
      } else {
        const plainBefore = plainCalls.count
        const [uncachedBody, uncachedMs] = await get(plainServer.url + step.path)
        const plainReads = plainCalls.count - plainBefore
        // A GET whose answer differs from the last answer to the same URL: no cache could have served it.
        const previous = lastAnswer.get(step.path)
        if (previous !== undefined && !isDeepStrictEqual(previous, uncachedBody)) changedAnswers++
        lastAnswer.set(step.path, uncachedBody)
        const before = cached.db.kvCache!.stats()
        const cachedBefore = cachedCalls.count
        const [cachedBody, cachedMs] = await get(cachedServer.url + step.path)
        const after = cached.db.kvCache!.stats()
        modelled.plain.push(plainReads * ORIGIN_MS)
        modelled.cached.push((cachedCalls.count - cachedBefore) * ORIGIN_MS + (lookupsOf(after) - lookupsOf(before)) * KV_GET_MS)
        hits += after.hits - before.hits
        lookups += lookupsOf(after) - lookupsOf(before)
        if (lookupsOf(after) - lookupsOf(before) > after.hits - before.hits) missedGets++
        latency.plain.push(uncachedMs)
        latency.cached.push(cachedMs)
        reads++
        if (!isDeepStrictEqual(uncachedBody, cachedBody)) {
          mismatches++
          if (mismatches <= 3) log(`  MISMATCH on GET ${step.path}`)
        }
      }
      if ((i + 1) % Math.ceil(steps.length / 10) === 0)
        log(
          `  ${Math.round(((i + 1) / steps.length) * 100)}%  ${i + 1} requests, cache hits so far ${cached.db.kvCache?.stats().hits ?? 0}`,
        )
    }
    await cached.db.kvCache?.settled()

    const stats = cached.db.kvCache!.stats()
    log('')
    log('| | without cache | with cache |')
    log('|---|---|---|')
    log(`| GET requests | ${reads} | ${reads} |`)
    const databaseReads = cachedCalls.count + beforeImages
    log(
      `| database reads | ${plainCalls.count} | ${databaseReads} (${ratio(plainCalls.count, databaseReads)} fewer; ${beforeImages} of them rows read before updates) |`,
    )
    log(`| adapter reads answered from KV | - | ${hits} of ${lookups} (${percent(hits, lookups)}) |`)
    log(
      `| p50 / p95 latency measured here (local; see below), ms | ${median(latency.plain).toFixed(1)} / ${quantile(latency.plain, 0.95).toFixed(1)} | ${median(latency.cached).toFixed(1)} / ${quantile(latency.cached, 0.95).toFixed(1)} |`,
    )
    log(
      `| mean / p95 wait per GET in production, a model (${ORIGIN_MS} ms per database call, ${KV_GET_MS} ms per KV lookup), ms | ${mean(modelled.plain).toFixed(1)} / ${quantile(modelled.plain, 0.95).toFixed(1)} | ${mean(modelled.cached).toFixed(1)} / ${quantile(modelled.cached, 0.95).toFixed(1)} (${ratio(mean(modelled.plain), mean(modelled.cached))} less) |`,
    )
    log(`| writes (Local API, interleaved) | - | ${writes}, ${stats.stampWrites} stamp writes |`)
    log(`| responses equal to the uncached ones | - | ${reads - mismatches} of ${reads} |`)
    log('')
    // Where the rest came from: the reads KV did not answer, by adapter method (the writes' own
    // reads, in their transactions, left out as above).
    const { byOperation } = cached.db.kvCache!.breakdown()
    const missed = READ_OPERATIONS.flatMap((operation) => {
      const c = byOperation[operation]
      const n = (c?.misses ?? 0) + (c?.stale ?? 0) + (c?.malformed ?? 0) + (c?.bypasses ?? 0) - (c?.bypassesTransaction ?? 0)
      return n > 0 ? [`${operation} ${n}`] : []
    })
    log(`Reads KV did not answer, by adapter method: ${missed.join(', ')}.`)
    log(
      `GETs with a read KV did not answer: ${missedGets}; of the ${reads} GETs, ${lastAnswer.size} were a URL's first and ${changedAnswers} answered differently than the last time that URL was asked (the data really changed).`,
    )
    log('')
    log('The database reads saved are what carries over to production. The latency measured here does not:')
    log('Postgres is on this machine (well under a millisecond a query, where a production database is')
    log("a network hop away), and KV is reached from Node through Miniflare's proxy (several ms a lookup,")
    log('where a Worker reads KV inside workerd). The model row counts, for each GET, the database calls')
    log(`and KV lookups this run made and charges ${ORIGIN_MS} ms and ${KV_GET_MS} ms for them; BENCHMARKS.md section 2 measures`)
    log('hits inside workerd and the same 20 ms origin model. Stats come from payload.db.kvCache.stats().')
    return mismatches === 0 ? 0 : 1
  } finally {
    for (const stop of stops) await stop().catch(() => undefined)
  }
}

/** Counts the read calls that reach the database adapter while `counting`. */
function countReads(adapter: object): { count: number; counting: boolean } {
  const counter = { count: 0, counting: true }
  const target = adapter as Record<string, unknown>
  for (const name of READ_OPERATIONS) {
    const original = target[name]
    if (typeof original !== 'function') continue
    target[name] = function (this: unknown, ...args: unknown[]) {
      if (counter.counting) counter.count++
      return (original as (...a: unknown[]) => unknown).apply(this, args)
    }
  }
  return counter
}

async function get(url: string): Promise<[unknown, number]> {
  const started = performance.now()
  const response = await fetch(url)
  const body = await response.json()
  return [{ status: response.status, body }, performance.now() - started]
}

const ratio = (a: number, b: number) => (b === 0 ? `${a}x` : `${(a / b).toFixed(1)}x`)
const percent = (a: number, b: number) => (b === 0 ? '0%' : `${((a / b) * 100).toFixed(1)}%`)
