/**
 * The slice of Cloudflare's `KVNamespace` this library uses. A Workers binding, Miniflare's
 * `getKVNamespace()` and wrangler's `getPlatformProxy()` all satisfy it.
 */
export interface KVNamespaceLike {
  get(key: string, type: 'text'): Promise<string | null>
  get(keys: string[], type: 'text'): Promise<Map<string, string | null>>
  put(key: string, value: string, options?: { expirationTtl?: number; expiration?: number }): Promise<void>
  delete(key: string): Promise<void>
  list(options?: { prefix?: string | null; cursor?: string | null; limit?: number }): Promise<KVListResult>
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

/** KV's limits (Cloudflare documentation, "Workers KV limits"). */
export const KV_LIMITS = {
  maxValueBytes: 25 * 1024 * 1024,
  minExpirationTtl: 60,
  maxBulkGetKeys: 100,
} as const
