/** Section 1 on D1: the bench Worker's uncached and cached instances, through dispatchFetch. */
import type { BenchWorker } from './d1.js'
import type { Answer, LoadTarget } from './load.js'

export interface WorkerState {
  [variant: string]: { counter?: { reads: number; writes: number }; stats?: Record<string, number>; footprint?: Record<string, number> }
}

/** One GET through one variant of the Worker, with what it cost (the Worker's headers). */
export async function answer(worker: BenchWorker<unknown>, variant: string, path: string): Promise<Answer> {
  const response = await worker.mf.dispatchFetch(`http://localhost/v/${variant}${path}`)
  const body: unknown = await response.json()
  const cache = /hits=(\d+); lookups=(\d+)/.exec(response.headers.get('x-kv-cache') ?? '')
  return {
    status: response.status,
    body,
    dbReads: Number(response.headers.get('x-db-reads') ?? 0),
    hits: cache ? Number(cache[1]) : 0,
    lookups: cache ? Number(cache[2]) : 0,
  }
}

export function d1Target(worker: BenchWorker): LoadTarget {
  return {
    get: async (path) => {
      const [plain, cached] = await Promise.all([answer(worker, 'plain', path), answer(worker, 'cached', path)])
      return { plain, cached }
    },
    write: async (id, views) => {
      const response = await worker.mf.dispatchFetch(`http://localhost/bench/write?id=${id}&views=${views}`, { method: 'POST' })
      if (response.status !== 200) throw new Error(`write failed: ${await response.text()}`)
      await response.arrayBuffer()
    },
    // Fills run through waitUntil inside the Worker: a later request sees them or misses, as on Cloudflare.
    settled: async () => undefined,
  }
}

export async function workerState(worker: BenchWorker): Promise<WorkerState> {
  const response = await worker.mf.dispatchFetch('http://localhost/bench/state')
  return (await response.json()) as WorkerState
}

export interface BurstFigures {
  calls: number
  peak?: Record<string, number>
  after?: Record<string, number>
}

export async function workerBurst(worker: BenchWorker, calls: number): Promise<BurstFigures> {
  const response = await worker.mf.dispatchFetch(`http://localhost/bench/burst?n=${calls}`, { method: 'POST' })
  if (response.status !== 200) throw new Error(`burst failed: ${await response.text()}`)
  const figures = (await response.json()) as BurstFigures
  // The fills went to waitUntil and outlive the burst's response; give them time to land.
  await new Promise((resolve) => setTimeout(resolve, 1000))
  return { ...figures, after: (await workerState(worker)).cached?.footprint }
}
