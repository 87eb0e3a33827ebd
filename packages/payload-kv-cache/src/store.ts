import { currentRequest } from './context.js'
import type { KVListResult, KVNamespaceLike } from './kv.js'
import { KV_LIMITS } from './kv.js'
import type { CacheStats } from './stats.js'

export class KVTimeoutError extends Error {
  constructor(ms: number) {
    super(`KV did not answer within ${ms} ms`)
    this.name = 'KVTimeoutError'
  }
}

/**
 * Why a KV call gave nothing: it threw, it was refused with a 429 (KV's one write per second
 * per key), it did not answer within the timeout, or it was not made because its request has
 * spent the KV operations Workers allow one invocation.
 */
export type KVFailure = 'error' | 'refused' | 'timeout' | 'budget'

/**
 * KV operations the cache makes in one request at most: Workers' 1,000 per invocation, less a
 * few for the site's own KV calls. Past it a call is not made (it would throw).
 */
export const REQUEST_OPERATIONS = KV_LIMITS.operationsPerInvocation - 20
/** Past this many in a request, reads go to the database: the rest is kept for stamp writes. */
export const READS_STOP_AT = 600
/** Past this many in a request, document and partition stamps fold into their collection's. */
export const FOLD_AT = 300

/** Workers KV's binding throws `KV PUT failed: 429 Too Many Requests` for a rate-limited write. */
function isRateLimit(error: unknown): boolean {
  return error instanceof Error && /\b429\b/.test(error.message)
}

/**
 * KV calls with the failure contract applied: a read that throws or is too slow returns
 * undefined (the caller goes to the database), and is counted.
 */
export class SafeKV {
  constructor(
    private readonly getKV: () => KVNamespaceLike,
    private readonly timeoutMs: number,
    private readonly stats: CacheStats,
    private readonly onError: (error: unknown, what: string) => void,
  ) {}

  /**
   * One bulk get per 100 keys, all in parallel; how it failed when any part did (the read path
   * counts failures per scope). Read with KV's shortest edge cache time (README, guarantee 1):
   * the stamps in it bound how long another location serves what a write replaced, and one
   * bulk get takes one `cacheTtl` for all its keys, the entry's too.
   */
  async getEntries(keys: readonly string[]): Promise<Map<string, string | null> | KVFailure> {
    if (!this.spend(Math.ceil(keys.length / KV_LIMITS.maxBulkGetKeys))) return 'budget'
    try {
      const kv = this.getKV()
      const parts: Promise<Map<string, string | null>>[] = []
      for (let i = 0; i < keys.length; i += KV_LIMITS.maxBulkGetKeys)
        parts.push(kv.get(keys.slice(i, i + KV_LIMITS.maxBulkGetKeys), { type: 'text', cacheTtl: KV_LIMITS.minCacheTtl }))
      const maps = await this.withTimeout(Promise.all(parts))
      // A binding that answers a bulk get with anything but a Map is failing, not empty.
      if (!maps.every((map) => map instanceof Map)) throw new TypeError('KV bulk get did not return a Map')
      if (maps.length === 1 && maps[0]) return maps[0]
      const merged = new Map<string, string | null>()
      for (const map of maps) for (const [key, value] of map) merged.set(key, value)
      return merged
    } catch (error) {
      return this.fail(error, 'get')
    }
  }

  /** Returns whether the value was stored. */
  async put(key: string, value: string, expirationTtl?: number): Promise<boolean> {
    return (await this.putEntry(key, value, expirationTtl)) === true
  }

  /** As `put`, saying how it failed. */
  async putEntry(key: string, value: string, expirationTtl?: number): Promise<true | KVFailure> {
    if (!this.spend(1)) return 'budget'
    try {
      const kv = this.getKV()
      await this.withTimeout(kv.put(key, value, expirationTtl === undefined ? undefined : { expirationTtl }))
      return true
    } catch (error) {
      return this.fail(error, 'put')
    }
  }

  /** One page of keys under `prefix`; undefined when listing failed. */
  async list(prefix: string, cursor: string | undefined): Promise<KVListResult | undefined> {
    if (!this.spend(1)) return undefined
    try {
      const page = await this.withTimeout(this.getKV().list({ prefix, cursor: cursor ?? null }))
      if (!page || !Array.isArray(page.keys)) throw new TypeError('KV list did not return keys')
      return page
    } catch (error) {
      this.fail(error, 'list')
      return undefined
    }
  }

  /** Returns whether the key was deleted. */
  async delete(key: string): Promise<boolean> {
    if (!this.spend(1)) return false
    try {
      await this.withTimeout(this.getKV().delete(key))
      return true
    } catch (error) {
      this.fail(error, 'delete')
      return false
    }
  }

  /** KV operations the current request has made (0 outside one). */
  used(): number {
    return currentRequest()?.used ?? 0
  }

  /** Counts `n` operations against the current request; false when they would pass its budget. */
  private spend(n: number): boolean {
    const request = currentRequest()
    if (!request) return true
    if (request.used + n > REQUEST_OPERATIONS) return false
    request.used += n
    return true
  }

  private fail(error: unknown, what: string): KVFailure {
    const timedOut = error instanceof KVTimeoutError
    if (timedOut) this.stats.timeouts++
    else this.stats.kvErrors++
    this.onError(error, what)
    return timedOut ? 'timeout' : isRateLimit(error) ? 'refused' : 'error'
  }

  private withTimeout<T>(promise: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new KVTimeoutError(this.timeoutMs)), this.timeoutMs)
    })
    // A late answer is dropped: the caller has already gone to the database.
    promise.catch(() => undefined)
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
  }
}
