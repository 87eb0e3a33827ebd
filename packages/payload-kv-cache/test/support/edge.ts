import type { KVNamespaceLike } from '../../src/index.js'

interface Write {
  at: number
  value: string | null
  location: string
}

/** The error Workers KV raises for a second write to one key inside a second. */
export class KVRateLimitError extends Error {
  constructor(key: string) {
    super(`KV PUT failed: 429 Too Many Requests (${key})`)
    this.name = 'KVRateLimitError'
  }
}

export interface Edge {
  /**
   * A view of the namespace from one location: sees other locations' writes `lagMs` late.
   * With `edgeCache`, the location also keeps what a read fetched (a value or a miss) and
   * answers it again for as long as the read's `cacheTtl` asked (60 s by default), as KV's
   * location caches do; its own writes replace its copy at once.
   */
  location(name: string, lagMs: number, options?: { edgeCache?: boolean }): KVNamespaceLike
  /** Accepted writes per key, from every location. */
  writes(key: string): number
  /** Writes to `key` refused with a 429. */
  rejectedFor(key: string): number
  /** Writes refused with a 429, over every key, or over the keys that `which` picks. */
  rejected(which?: (key: string) => boolean): number
}

/**
 * Workers KV's production behaviour around the real Miniflare namespace, which has none of
 * it: one write per second per key (a second write inside it fails with a 429, as KV's
 * does), and locations that see each other's writes only after a lag, as KV's location
 * caches do. Time is the test's clock. Every write still reaches the real namespace; a lagged
 * read answers the newest value that had reached that location by then.
 */
export function edgeKV(real: KVNamespaceLike, now: () => number): Edge {
  const history = new Map<string, Write[]>()
  const accepted = new Map<string, number>()
  const rejected = new Map<string, number>()
  const edge: Edge = {
    writes: (key) => accepted.get(key) ?? 0,
    rejectedFor: (key) => rejected.get(key) ?? 0,
    rejected: (which = () => true) => [...rejected].reduce((sum, [key, n]) => (which(key) ? sum + n : sum), 0),
    location(name, lagMs, options = {}) {
      const cached = new Map<string, { value: string | null; at: number }>()
      const record = (key: string, value: string | null): void => {
        const writes = history.get(key) ?? []
        writes.push({ at: now(), value, location: name })
        history.set(key, writes)
        if (options.edgeCache) cached.set(key, { value, at: now() })
      }
      const throughCache = (key: string, fresh: string | null, cacheTtl: number): string | null => {
        if (!options.edgeCache) return visible(key, fresh)
        const copy = cached.get(key)
        if (copy && now() - copy.at < cacheTtl * 1000) return copy.value
        const value = visible(key, fresh)
        cached.set(key, { value, at: now() })
        return value
      }
      const visible = (key: string, fresh: string | null): string | null => {
        const writes = history.get(key)
        if (!writes) return fresh
        for (let i = writes.length - 1; i >= 0; i--) {
          const write = writes[i]!
          if (write.location === name || write.at <= now() - lagMs) return write.value
        }
        return null
      }
      return {
        async get(key: string | string[], type?: unknown) {
          const asked = type !== null && typeof type === 'object' ? (type as { cacheTtl?: number }).cacheTtl : undefined
          const cacheTtl = asked ?? 60
          if (Array.isArray(key)) {
            const map = await real.get(key, 'text')
            for (const k of key) map.set(k, throughCache(k, map.get(k) ?? null, cacheTtl))
            return map
          }
          return throughCache(key, await real.get(key, 'text'), cacheTtl)
        },
        async put(key, value, options) {
          const last = history.get(key)?.at(-1)
          if (last && last.value !== null && now() - last.at < 1000) {
            rejected.set(key, (rejected.get(key) ?? 0) + 1)
            throw new KVRateLimitError(key)
          }
          record(key, value)
          accepted.set(key, (accepted.get(key) ?? 0) + 1)
          await real.put(key, value, options)
        },
        async delete(key) {
          record(key, null)
          await real.delete(key)
        },
        list: (options) => real.list(options),
      } as KVNamespaceLike
    },
  }
  return edge
}
