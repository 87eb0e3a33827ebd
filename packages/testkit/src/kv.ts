import type { KVNamespaceLike } from 'payload-kv-cache'

export interface KVServer {
  kv: KVNamespaceLike
  dispose(): Promise<void>
}

/** Miniflare's KV: the implementation `wrangler dev` runs. One per test file, or per bench run. */
export async function startKV(): Promise<KVServer> {
  // Loaded here, not at the top: the demo imports this package for a quantile, not for Miniflare.
  const { Miniflare } = await import('miniflare')
  const mf = new Miniflare({ modules: true, script: 'export default {}', kvNamespaces: ['CACHE'], cf: false })
  const kv = (await mf.getKVNamespace('CACHE')) as unknown as KVNamespaceLike
  return { kv, dispose: () => mf.dispose() }
}

export type KVCounts = Record<'get' | 'put' | 'delete' | 'list', number>

/**
 * The real namespace with every call counted, so tests can tell hits from misses and see
 * how many stamp writes a write made, and the bench can price a write in KV operations.
 * Wraps, never replaces.
 */
export interface CountingKV extends KVNamespaceLike {
  counts: KVCounts
  /** Keys put, deleted, and prefixes listed, in order. */
  puts: string[]
  deletes: string[]
  lists: string[]
}

export function countingKV(kv: KVNamespaceLike): CountingKV {
  const counts: KVCounts = { get: 0, put: 0, delete: 0, list: 0 }
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

/** The calls made between two snapshots of `counts`. */
export const diff = (to: KVCounts, from: KVCounts): KVCounts => ({
  get: to.get - from.get,
  put: to.put - from.put,
  delete: to.delete - from.delete,
  list: to.list - from.list,
})

export interface PlantOptions {
  /** Index of the first entry, to add to entries planted before. Default 0. */
  from?: number
  /** Puts in flight at once. Default 500. */
  batch?: number
  /** The entries' expirationTtl, seconds. Default 600. */
  ttlSeconds?: number
}

/**
 * Puts `count` entries straight into KV under a scope's prefix, `<prefix>:<scope>:find:planted-<i>`:
 * what that many cached reads would leave, without making them. For pricing an invalidation
 * (the cost test, the bench's section 4) and the prefix strategy's listing.
 */
export async function plant(kv: KVNamespaceLike, prefix: string, scope: string, count: number, options: PlantOptions = {}): Promise<void> {
  const { from = 0, batch = 500, ttlSeconds = 600 } = options
  for (let i = from; i < from + count; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, from + count - i) }, (_, j) =>
        kv.put(`${prefix}:${scope}:find:planted-${i + j}`, 'x', { expirationTtl: ttlSeconds }),
      ),
    )
  }
}
