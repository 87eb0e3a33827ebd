import { Miniflare } from 'miniflare'
import type { KVNamespaceLike } from '../../src/index.js'

export interface KVServer {
  kv: KVNamespaceLike
  dispose(): Promise<void>
}

/** Miniflare's KV: the implementation `wrangler dev` runs. One per test file. */
export async function startKV(): Promise<KVServer> {
  const mf = new Miniflare({ modules: true, script: 'export default {}', kvNamespaces: ['CACHE'], cf: false })
  const kv = (await mf.getKVNamespace('CACHE')) as unknown as KVNamespaceLike
  return { kv, dispose: () => mf.dispose() }
}

/**
 * The real namespace with every call counted, so tests can tell hits from misses and see
 * how many stamp writes a write made. Wraps, never replaces.
 */
export interface CountingKV extends KVNamespaceLike {
  counts: Record<'get' | 'put' | 'delete' | 'list', number>
  /** Keys put, deleted, and prefixes listed, in order. */
  puts: string[]
  deletes: string[]
  lists: string[]
}

export function countingKV(kv: KVNamespaceLike): CountingKV {
  const counts = { get: 0, put: 0, delete: 0, list: 0 }
  const puts: string[] = []
  const deletes: string[] = []
  const lists: string[] = []
  return {
    counts,
    puts,
    deletes,
    lists,
    get: ((key: string | string[], type: 'text') => {
      counts.get++
      return kv.get(key as string, type)
    }) as KVNamespaceLike['get'],
    put: (key, value, options) => {
      counts.put++
      puts.push(key)
      return kv.put(key, value, options)
    },
    delete: (key) => {
      counts.delete++
      deletes.push(key)
      return kv.delete(key)
    },
    list: (options) => {
      counts.list++
      lists.push(options?.prefix ?? '')
      return kv.list(options)
    },
  }
}
