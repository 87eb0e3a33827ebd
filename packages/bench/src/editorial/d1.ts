/** The editorial run on D1: the bench Worker (SITE=editorial) in Miniflare, through dispatchFetch. */
import type { BenchWorker } from '../d1.js'
import { answer } from '../d1-target.js'
import type { Ops, Phase } from '../phased-kv.js'
import type { EditorialTarget, WriteAnswer } from './run.js'
import type { EditorialIds } from './seed.js'

export function editorialD1(worker: BenchWorker<EditorialIds>): EditorialTarget {
  return {
    ids: worker.ids,
    get: async (path) => {
      const [plain, cached] = await Promise.all([answer(worker, 'plain', path), answer(worker, 'cached', path)])
      return { plain, cached }
    },
    write: async (write) => {
      const response = await worker.mf.dispatchFetch('http://localhost/bench/edit', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(write),
      })
      if (response.status !== 200) throw new Error(`${write.kind} failed: ${await response.text()}`)
      return (await response.json()) as WriteAnswer
    },
    kvCounts: async () => {
      const response = await worker.mf.dispatchFetch('http://localhost/bench/kv-counts')
      const counts = (await response.json()) as Record<Phase, Ops> | null
      if (!counts) throw new Error('the Worker counted no KV operations: was the cached instance used?')
      return counts
    },
    // Fills and trailing stamp writes run through waitUntil inside the Worker, as on Cloudflare.
    settled: () => new Promise((resolve) => setTimeout(resolve, 1500)),
  }
}
