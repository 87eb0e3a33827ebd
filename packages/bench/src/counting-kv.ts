/** The real namespace with every call counted, as the library's cost test counts them. */
import type { KVNamespaceLike } from 'payload-kv-cache'

export type KVCounts = Record<'get' | 'put' | 'delete' | 'list', number>

export interface CountingKV extends KVNamespaceLike {
  counts: KVCounts
}

export function countingKV(kv: KVNamespaceLike): CountingKV {
  const counts: KVCounts = { get: 0, put: 0, delete: 0, list: 0 }
  return {
    counts,
    get: ((key: string | string[], type: 'text') => {
      counts.get++
      return kv.get(key as string, type)
    }) as KVNamespaceLike['get'],
    put: (key, value, options) => {
      counts.put++
      return kv.put(key, value, options)
    },
    delete: (key) => {
      counts.delete++
      return kv.delete(key)
    },
    list: (options) => {
      counts.list++
      return kv.list(options)
    },
  }
}

export const diff = (to: KVCounts, from: KVCounts): KVCounts => ({ get: to.get - from.get, put: to.put - from.put, delete: to.delete - from.delete, list: to.list - from.list })
