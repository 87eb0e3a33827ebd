import type { KVNamespaceLike } from 'payload-kv-cache'

/**
 * A location's cache in front of the shared KV namespace, as Workers KV keeps one in each
 * location: a value this location fetched (or found missing) is answered again from here for
 * as long as the read's `cacheTtl` asked (KV's default 60 s; the library asks 30 s), so
 * another location's writes stay unseen here that long. This location's own puts and
 * deletes replace its copy at once. It models only that cache, not KV's propagation
 * delay, so it understates how late a real location can be, never overstates it.
 */
export function laggingKV(real: KVNamespaceLike, now: () => number = Date.now): KVNamespaceLike {
  const copies = new Map<string, { value: string | null; until: number }>()
  const remembered = (key: string): { value: string | null } | undefined => {
    const copy = copies.get(key)
    return copy && copy.until > now() ? copy : undefined
  }
  const remember = (key: string, value: string | null, ttlSeconds: number): void => {
    copies.set(key, { value, until: now() + ttlSeconds * 1000 })
  }
  // Each of KVNamespaceLike's two `get` shapes: one key, or a bulk read with its options.
  function get(key: string, type: 'text'): Promise<string | null>
  function get(keys: string[], type: 'text' | { type: 'text'; cacheTtl?: number }): Promise<Map<string, string | null>>
  async function get(
    key: string | string[],
    type: 'text' | { type: 'text'; cacheTtl?: number },
  ): Promise<string | null | Map<string, string | null>> {
    const ttl = typeof type === 'object' ? (type.cacheTtl ?? 60) : 60
    const keys = Array.isArray(key) ? key : [key]
    const missing = keys.filter((k) => !remembered(k))
    const fetched = missing.length === 0 ? new Map<string, string | null>() : await real.get(missing, 'text')
    const out = new Map<string, string | null>()
    for (const k of keys) {
      const copy = remembered(k)
      if (copy) out.set(k, copy.value)
      else {
        const value = fetched.get(k) ?? null
        remember(k, value, ttl)
        out.set(k, value)
      }
    }
    return Array.isArray(key) ? out : (out.get(key) ?? null)
  }
  return {
    get,
    async put(key, value, options) {
      await real.put(key, value, options)
      remember(key, value, 60)
    },
    async delete(key) {
      await real.delete(key)
      remember(key, null, 60)
    },
    list: (options) => real.list(options),
  }
}
