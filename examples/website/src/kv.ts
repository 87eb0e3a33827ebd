import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import type { DurableObjectNamespaceLike, KVNamespaceLike } from 'payload-kv-cache'

interface Platform {
  kv: KVNamespaceLike
  /** Answers a request to the stamps object named in its path (the Worker below routes it). */
  stamps: (name: string, init?: RequestInit) => Promise<Response>
}

type WithPlatform = typeof globalThis & { __pkcWebsitePlatform?: Promise<Platform> }

/**
 * A Worker of Miniflare's, as one deploy would have on Cloudflare: the KV namespace and the
 * library's `KVCacheStamps` Durable Object (`payload-kv-cache/durable-object`, which keeps the
 * stamps of strong scopes: README, Strong consistency). The object is reached through the
 * Worker's own fetch, as the library's tests reach it: Miniflare's Node proxy of bindings is
 * not reliable under load.
 */
const WORKER = `
export { KVCacheStamps } from './durable-object.js'
export default {
  async fetch(request, env) {
    const name = decodeURIComponent(new URL(request.url).pathname.slice(1))
    return env.STAMPS.get(env.STAMPS.idFromName(name)).fetch(request)
  },
}
`

/**
 * Miniflare, one per server process. Kept on globalThis, as Payload keeps its instance: Next
 * can evaluate the config module more than once in a process (route handlers and pages are
 * separate bundles, and `next dev` reloads it), and every copy must see the same entries and
 * stamps, as every request of one Worker isolate sees one binding. Started on first use, so
 * that `next build` importing the config starts nothing.
 */
function platform(): Promise<Platform> {
  const scope = globalThis as WithPlatform
  scope.__pkcWebsitePlatform ??= (async () => {
    const { Miniflare } = await import('miniflare')
    // Resolved from the app's directory (Next runs there): a bundled module's own URL is not a path.
    const resolve = createRequire(path.join(process.cwd(), 'package.json')).resolve
    const durableObject = readFileSync(resolve('payload-kv-cache/durable-object'), 'utf8')
    const mf = new Miniflare({
      modules: [
        { type: 'ESModule', path: 'index.mjs', contents: WORKER },
        { type: 'ESModule', path: 'durable-object.js', contents: durableObject },
      ],
      kvNamespaces: ['CACHE'],
      durableObjects: { STAMPS: 'KVCacheStamps' },
      compatibilityDate: '2026-04-20',
      cf: false,
    })
    // Miniflare's declarations type it through @cloudflare/workers-types, not installed here.
    const kv = (await mf.getKVNamespace('CACHE')) as unknown as KVNamespaceLike
    const stamps = async (name: string, init?: RequestInit): Promise<Response> =>
      (await mf.dispatchFetch(`http://stamps/${encodeURIComponent(name)}`, init as never)) as unknown as Response
    return { kv, stamps }
  })()
  return scope.__pkcWebsitePlatform
}

/** A KV namespace whose calls wait for Miniflare to start: withKVCache needs the binding at config time. */
export const miniflareKV: KVNamespaceLike = {
  get: (async (key: string | string[], type: 'text') => (await platform()).kv.get(key as string, type)) as KVNamespaceLike['get'],
  put: async (key, value, options) => (await platform()).kv.put(key, value, options),
  delete: async (key) => (await platform()).kv.delete(key),
  list: async (options) => (await platform()).kv.list(options),
}

/** The `KVCacheStamps` binding, as `env.KV_CACHE_STAMPS` would be on Workers. */
export const miniflareStamps: DurableObjectNamespaceLike = {
  idFromName: (name: string) => name,
  get: (id: unknown) => ({
    async fetch(_input: string, init?: { method?: string; body?: string; headers?: Record<string, string> }) {
      const response = await (await platform()).stamps(String(id), init)
      const text = await response.text()
      return { ok: response.ok, status: response.status, json: async () => JSON.parse(text) as unknown }
    },
  }),
}

/** Starts Miniflare now (src/instrumentation.ts, when the server starts), so the first page's reads do not wait for workerd past kvTimeoutMs. */
export const startKV = async (): Promise<void> => {
  await platform()
}
