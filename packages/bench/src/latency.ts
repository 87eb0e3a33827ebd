/**
 * Section 2: how long a GET takes inside workerd, cached against uncached, and eventual
 * against strong scopes (stamps in a Durable Object), on the same Worker and database,
 * sampled round-robin so that machine noise falls on every variant alike.
 */
import { median, quantile } from '@pkc/testkit'
import type { BenchWorker } from './d1.js'

export interface Query {
  name: string
  /** For the chart, whose labels have little room. */
  short: string
  path: string
  /** Where its entry lives in KV, for the bare get it is compared with. */
  entryPrefix: string
}

export function queries(ids: BenchWorker['ids']): Query[] {
  return [
    { name: 'by id', short: 'by id', path: `/api/posts/${ids.posts[0]}?depth=0`, entryPrefix: 'cached:c:posts:findOne:' },
    {
      name: 'list: where, sort, limit',
      short: 'list',
      path: '/api/posts?where[views][greater_than]=250&sort=title&limit=20&depth=0',
      entryPrefix: 'cached:c:posts:find:',
    },
    {
      name: 'with a join (author and their posts)',
      short: 'join',
      path: `/api/authors/${ids.authors[0]}?depth=0`,
      entryPrefix: 'cached:c:authors:findOne:',
    },
  ]
}

/** What each sample series is; the worker variants are in worker/index.ts. */
export const SERIES = {
  plain: 'uncached (D1)',
  cached: 'cached (KV hit)',
  memory: 'no database call (adapter answers from memory)',
  kv: 'bare KV get',
  empty: 'empty Worker response',
  'plain-delayed': 'uncached, origin model +20 ms/call',
  'cached-delayed': 'cached, origin model +20 ms/call',
  strong: 'cached, strong scopes (KV hit + Durable Object)',
  'strong-delayed': 'cached, strong scopes, origin model +20 ms/call',
} as const
export type Series = keyof typeof SERIES

export interface Distribution {
  p50: number
  p95: number
  p99: number
  samples: number
}

export interface QueryLatency {
  query: Query
  /** Adapter reads one request makes (the number of KV lookups a hit needs). */
  reads: number
  series: Record<Series, Distribution>
  /** Durable Object calls per sampled request of the strong variants (`x-strong-reads`). */
  strongCalls: { strong: number; 'strong-delayed': number }
}

/** Series whose every sample must be all KV hits. */
const CACHED: ReadonlySet<Series> = new Set(['cached', 'strong'])

const distribution = (values: number[]): Distribution => ({
  p50: median(values),
  p95: quantile(values, 0.95),
  p99: quantile(values, 0.99),
  samples: values.length,
})

async function timed(worker: BenchWorker, path: string): Promise<{ ms: number; response: Response }> {
  const started = performance.now()
  const response = await worker.mf.dispatchFetch(`http://localhost${path}`)
  await response.arrayBuffer()
  return { ms: performance.now() - started, response }
}

export async function measureLatency(worker: BenchWorker, samples: number, progress: (line: string) => void): Promise<QueryLatency[]> {
  const out: QueryLatency[] = []
  for (const query of queries(worker.ids)) {
    // Fills the cache, and lets every variant build its Payload and warm its JIT.
    let reads = 0
    for (let i = 0; i < 20; i++) {
      for (const variant of ['plain', 'cached', 'memory', 'plain-delayed', 'cached-delayed', 'strong', 'strong-delayed']) {
        const { response } = await timed(worker, `/v/${variant}${query.path}`)
        if (response.status !== 200) throw new Error(`${variant} ${query.path}: ${response.status}`)
        if (variant === 'plain') reads = Number(response.headers.get('x-db-reads'))
      }
    }
    const paths: Record<Series, string> = {
      plain: `/v/plain${query.path}`,
      cached: `/v/cached${query.path}`,
      memory: `/v/memory${query.path}`,
      kv: `/bench/kv?prefix=${encodeURIComponent(query.entryPrefix)}&n=${reads}`,
      empty: '/bench/empty',
      'plain-delayed': `/v/plain-delayed${query.path}`,
      'cached-delayed': `/v/cached-delayed${query.path}`,
      strong: `/v/strong${query.path}`,
      'strong-delayed': `/v/strong-delayed${query.path}`,
    }
    const series = Object.keys(paths) as Series[]
    const times = Object.fromEntries(series.map((name) => [name, [] as number[]])) as Record<Series, number[]>
    const strongCalls = { strong: 0, 'strong-delayed': 0 }
    for (let i = 0; i < samples; i++) {
      // Rotated each round, so that no variant always follows the same one.
      for (let j = 0; j < series.length; j++) {
        const name = series[(i + j) % series.length]!
        const { ms, response } = await timed(worker, paths[name])
        if (CACHED.has(name) && !/hits=(\d+); lookups=\1$/.test(response.headers.get('x-kv-cache') ?? '')) {
          throw new Error(`a ${name} sample of ${query.name} was not all hits: ${response.headers.get('x-kv-cache')}`)
        }
        if (name === 'strong' || name === 'strong-delayed') strongCalls[name] += Number(response.headers.get('x-strong-reads'))
        times[name].push(ms)
      }
    }
    out.push({
      query,
      reads,
      series: Object.fromEntries(series.map((name) => [name, distribution(times[name])])) as Record<Series, Distribution>,
      strongCalls: { strong: strongCalls.strong / samples, 'strong-delayed': strongCalls['strong-delayed'] / samples },
    })
    progress(
      `    ${query.name}: p50 uncached ${median(times.plain).toFixed(2)} ms, cached ${median(times.cached).toFixed(2)} ms, strong ${median(times.strong).toFixed(2)} ms`,
    )
  }
  return out
}

/** Writes through the eventual and the strong cached instance: what a strong write waits for. */
export interface WriteLatency {
  /** Writes per variant. */
  writes: number
  eventual: Distribution
  strong: Distribution
  /** Durable Object calls (bumps) per write, by variant: the eventual one makes none. */
  bumps: { eventual: number; strong: number }
}

/**
 * Editor saves (a post's `views`, Local API) alternating between the two instances, spaced
 * so that neither comes near KV's one write per second per stamp (a burst would change what
 * the write does). Run after the reads: each write invalidates that instance's entries.
 */
export async function measureWrites(worker: BenchWorker, writes: number): Promise<WriteLatency> {
  const variants = { eventual: 'cached', strong: 'strong' } as const
  const times = { eventual: [] as number[], strong: [] as number[] }
  const bumps = { eventual: 0, strong: 0 }
  const id = worker.ids.posts.at(-1)
  for (let i = 0; i < writes; i++) {
    for (const kind of i % 2 === 0 ? (['eventual', 'strong'] as const) : (['strong', 'eventual'] as const)) {
      const { ms, response } = await timed(worker, `/bench/write?variant=${variants[kind]}&id=${id}&views=${1000 + i}`)
      if (response.status !== 200) throw new Error(`a ${kind} write failed: ${response.status}`)
      times[kind].push(ms)
      bumps[kind] += Number(response.headers.get('x-strong-bumps'))
      await new Promise((resolve) => setTimeout(resolve, 400))
    }
  }
  return {
    writes,
    eventual: distribution(times.eventual),
    strong: distribution(times.strong),
    bumps: { eventual: bumps.eventual / writes, strong: bumps.strong / writes },
  }
}
