/**
 * The slice of Cloudflare's `KVNamespace` this library uses. A Workers binding, Miniflare's
 * `getKVNamespace()` and wrangler's `getPlatformProxy()` all satisfy it.
 */
export interface KVNamespaceLike {
  get(key: string, type: 'text'): Promise<string | null>
  get(keys: string[], type: 'text' | KVGetOptions): Promise<Map<string, string | null>>
  put(key: string, value: string, options?: { expirationTtl?: number; expiration?: number }): Promise<void>
  delete(key: string): Promise<void>
  list(options?: { prefix?: string | null; cursor?: string | null; limit?: number }): Promise<KVListResult>
}

/** A bulk `get`'s options: `cacheTtl` is how long a location may answer the keys from its own cache. */
export interface KVGetOptions {
  type: 'text'
  cacheTtl?: number
}

export interface KVListResult {
  keys: Array<{ name: string }>
  list_complete: boolean
  cursor?: string
}

export function isKVNamespace(value: unknown): value is KVNamespaceLike {
  if (value === null || typeof value !== 'object') return false
  const candidate = value as Record<string, unknown>
  return ['get', 'put', 'delete', 'list'].every((name) => typeof candidate[name] === 'function')
}

/**
 * KV's limits (Cloudflare documentation, "Workers KV limits", and the Workers platform
 * limits): the one place the library spells them.
 */
export const KV_LIMITS = {
  maxValueBytes: 25 * 1024 * 1024,
  maxKeyBytes: 512,
  minExpirationTtl: 60,
  /**
   * The shortest time a location may keep answering a read from its own cache (`cacheTtl`;
   * 30 s since January 2026, 60 s by default): after a write elsewhere, how long a location
   * can still show the old value once the write has reached KV's central store.
   */
  minCacheTtl: 30,
  /** Keys one bulk `get` takes; it counts as one operation. */
  maxBulkGetKeys: 100,
  /** One write per second per key: a second write inside it meets a 429. */
  keyWriteIntervalMs: 1000,
  /** KV operations one Workers invocation may make, `waitUntil` work included. */
  operationsPerInvocation: 1000,
} as const
