/**
 * A KV namespace wrapper that counts operations and charges each to the reads (GETs) or
 * the writes (editors' saves) of a workload. Used in Node and bundled into the bench Worker:
 * no Node built-ins.
 *
 * Fills and trailing stamp writes run in the background and may land while the next request
 * is in flight, so time alone would misattribute them. The rule:
 *   - `get` (one call, bulk or not: KV bills a bulk get as one operation) goes to the phase
 *     in flight when it is made: reads fetch entries and stamps before answering;
 *   - `put` of a cache entry is a fill, caused by a read;
 *   - `put` of anything under `:stamp:` (stamps, and whatever finer stamps the strategy adds
 *     there), `delete` and `list` (the prefix strategy's purge) are invalidation, caused by a write.
 */
import type { KVNamespaceLike } from 'payload-kv-cache'

export type Phase = 'read' | 'write'
export type Ops = Record<'get' | 'put' | 'delete' | 'list', number>

export interface PhasedKV {
  kv: KVNamespaceLike
  /** Set by the caller as each request starts. */
  phase: Phase
  counts: Record<Phase, Ops>
}

const zero = (): Ops => ({ get: 0, put: 0, delete: 0, list: 0 })
export const totalOps = (ops: Ops): number => ops.get + ops.put + ops.delete + ops.list
export const opsDiff = (to: Ops, from: Ops): Ops => ({
  get: to.get - from.get,
  put: to.put - from.put,
  delete: to.delete - from.delete,
  list: to.list - from.list,
})

export function phasedKV(kv: KVNamespaceLike): PhasedKV {
  const state: PhasedKV = {
    phase: 'read',
    counts: { read: zero(), write: zero() },
    kv: {
      get: ((key: string | string[], type: 'text') => {
        state.counts[state.phase].get++
        return kv.get(key as string, type)
      }) as KVNamespaceLike['get'],
      put: (key, value, options) => {
        state.counts[key.includes(':stamp:') ? 'write' : 'read'].put++
        return kv.put(key, value, options)
      },
      delete: (key) => {
        state.counts.write.delete++
        return kv.delete(key)
      },
      list: (options) => {
        state.counts.write.list++
        return kv.list(options)
      },
    },
  }
  return state
}
