/**
 * Section 1's run: the magazine's Zipf workload sent to an uncached and a cached instance
 * over one database, every cached answer compared with the uncached one.
 */
import { isDeepStrictEqual } from 'node:util'
import type { Ids, Step } from '@pkc-examples/magazine'
import { workload } from '@pkc-examples/magazine'

/** One GET's answer and what it cost the instance that gave it. */
export interface Answer {
  status: number
  body: unknown
  /** Read calls that reached the database adapter during this request. */
  dbReads: number
  /** Adapter reads answered from KV, and all adapter reads the cache saw. */
  hits: number
  lookups: number
}

export interface LoadTarget {
  /** The same GET through the uncached and the cached instance, at the same moment. */
  get(path: string): Promise<{ plain: Answer; cached: Answer }>
  /** An editor's save through the cached instance's Local API (the admin panel's way). */
  write(id: number | string, views: number): Promise<void>
  /** Resolves when background fills and invalidations are done, where that can be known. */
  settled(): Promise<void>
}

export type WriteMix = 'workload' | 'tenth'

export const MIX_LABEL: Record<WriteMix, string> = {
  workload: '5 % writes (the demo workload)',
  tenth: '0.5 % writes (same sequence, 9 of 10 writes left out)',
}

/**
 * The demo's steps, or the same steps with nine writes in ten left out: the reads stay
 * identical, so the two mixes differ only in how often the hot `posts` scope is invalidated.
 */
export function steps(ids: Ids, requests: number, mix: WriteMix): Step[] {
  const all = workload(ids, requests)
  if (mix === 'workload') return all
  let write = 0
  return all.filter((step) => step.kind === 'read' || write++ % 10 === 0)
}

export interface LoadResult {
  requests: number
  gets: number
  /** Different URLs among the GETs: each one's first read must reach the database. */
  distinctPaths: number
  writes: number
  plainReads: number
  cachedReads: number
  hits: number
  lookups: number
  /** Cached answers that differed from the uncached answer to the same request. */
  stale: number
  seconds: number
}

export async function runLoad(target: LoadTarget, plan: readonly Step[], progress: (line: string) => void): Promise<LoadResult> {
  const distinctPaths = new Set(plan.flatMap((step) => (step.kind === 'read' ? [step.path] : []))).size
  const result: LoadResult = {
    requests: plan.length,
    distinctPaths,
    gets: 0,
    writes: 0,
    plainReads: 0,
    cachedReads: 0,
    hits: 0,
    lookups: 0,
    stale: 0,
    seconds: 0,
  }
  const started = performance.now()
  const tick = Math.max(1, Math.ceil(plan.length / 4))
  for (const [i, step] of plan.entries()) {
    if (step.kind === 'write') {
      await target.write(step.id, step.views)
      result.writes++
    } else {
      const { plain, cached } = await target.get(step.path)
      result.gets++
      result.plainReads += plain.dbReads
      result.cachedReads += cached.dbReads
      result.hits += cached.hits
      result.lookups += cached.lookups
      if (plain.status !== cached.status || !isDeepStrictEqual(plain.body, cached.body)) {
        result.stale++
        if (result.stale <= 3) progress(`    MISMATCH on GET ${step.path}`)
      }
    }
    if ((i + 1) % tick === 0 || i + 1 === plan.length)
      progress(`    ${i + 1}/${plan.length} requests, hit ratio so far ${((result.hits / Math.max(1, result.lookups)) * 100).toFixed(1)} %`)
  }
  await target.settled()
  result.seconds = (performance.now() - started) / 1000
  return result
}
