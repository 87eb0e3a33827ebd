/**
 * Payload's REST API inside workerd, no Next.js: D1 for the database, payload-kv-cache on KV.
 * Payload is built once per isolate and serves every request after.
 */
import { waitUntil } from 'cloudflare:workers'
import { sqliteD1Adapter } from '@payloadcms/db-d1-sqlite'
import { siteConfig } from '@pkc-examples/magazine/config'
import type { SanitizedConfig } from 'payload'
import { getPayload, handleEndpoints } from 'payload'
import type { DurableObjectNamespaceLike, KVNamespaceLike } from 'payload-kv-cache'
import { withKVCache } from 'payload-kv-cache'

// Strong scopes keep their stamps in this Durable Object; wrangler.jsonc binds it as KV_CACHE_STAMPS.
export { KVCacheStamps } from 'payload-kv-cache/durable-object'

interface Env {
  D1: Parameters<typeof sqliteD1Adapter>[0]['binding']
  CACHE: KVNamespaceLike
  KV_CACHE_STAMPS: DurableObjectNamespaceLike
}

let config: Promise<SanitizedConfig> | undefined

function configFor(env: Env): Promise<SanitizedConfig> {
  // Tables come from `pnpm schema` (drizzle-kit cannot run here): never push from the Worker.
  // Categories are strong: a rename shows in every location as soon as the write returns.
  config ??= siteConfig(
    withKVCache(sqliteD1Adapter({ binding: env.D1, push: false }), {
      kv: env.CACHE,
      waitUntil,
      strongStamps: env.KV_CACHE_STAMPS,
      collections: { categories: { consistency: 'strong' } },
    }),
  )
  return config
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url)
    if (!url.pathname.startsWith('/api/')) return new Response('Payload REST API under /api', { status: 404 })
    const payload = await getPayload({ config: configFor(env) })
    const before = payload.db.kvCache?.stats()
    const response = await handleEndpoints({ config: configFor(env), request })
    const after = payload.db.kvCache?.stats()
    // What the cache did for this request, for the curious and for the example's test.
    const headers = new Headers(response.headers)
    if (before && after)
      headers.set('x-kv-cache', `hits=${after.hits - before.hits}; misses=${after.misses - before.misses + after.stale - before.stale}`)
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers })
  },
}
