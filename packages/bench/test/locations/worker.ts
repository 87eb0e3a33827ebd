/**
 * One location of test/locations.test.ts: Miniflare runs this bundle twice, as location A
 * and location B, over one D1, one KV namespace and one Durable Object namespace (A hosts
 * the class, B binds to it). In each, `posts` is strong and `categories` eventual.
 *
 *   /cached/api/...   Payload's REST API through the cached instance
 *   /plain/api/...    the same through an uncached instance: what the database holds
 *   /seed             the magazine's content, through the uncached instance; answers its ids
 *   /write            JSON { collection, id, data }: an update through the cached instance
 *   /fault?on=1|0     makes every Durable Object call of this location throw, or not
 *   /stats            the cached instance's counters (`breakdown().totals`)
 *
 * LAG=1 puts this location's KV behind a location cache (lagging-kv.ts).
 */
import { waitUntil } from 'cloudflare:workers'
import { sqliteD1Adapter } from '@payloadcms/db-d1-sqlite'
import { siteConfig } from '@pkc-examples/magazine/config'
import { seed } from '@pkc-examples/magazine/seed'
import type { CollectionSlug, Payload, SanitizedConfig } from 'payload'
import { getPayload, handleEndpoints } from 'payload'
import type { DurableObjectNamespaceLike, KVNamespaceLike } from 'payload-kv-cache'
import { withKVCache } from 'payload-kv-cache'
import { laggingKV } from './lagging-kv.js'

export { KVCacheStamps } from 'payload-kv-cache/durable-object'

interface Env {
  D1: Parameters<typeof sqliteD1Adapter>[0]['binding']
  CACHE: KVNamespaceLike
  KV_CACHE_STAMPS: DurableObjectNamespaceLike
  LAG?: string
}

type Instance = 'cached' | 'plain'

const configs = new Map<Instance, Promise<SanitizedConfig>>()
/** Set by /fault: the Durable Object is unreachable from this location. */
let failing = false

/** The binding, with every call throwing while `failing` is set, as an unreachable object's does. */
function faultable(real: DurableObjectNamespaceLike): DurableObjectNamespaceLike {
  return {
    idFromName: (name) => real.idFromName(name),
    get(id) {
      const stub = real.get(id)
      return {
        fetch: (input, init) => (failing ? Promise.reject(new Error('Durable Object unreachable (injected)')) : stub.fetch(input, init)),
      }
    },
  }
}

function configFor(instance: Instance, env: Env): Promise<SanitizedConfig> {
  let config = configs.get(instance)
  if (config) return config
  // Tables come from Node before the Worker starts: never push from here.
  const db = sqliteD1Adapter({ binding: env.D1, push: false })
  config = siteConfig(
    instance === 'plain'
      ? db
      : withKVCache(db, {
          kv: env.LAG === '1' ? laggingKV(env.CACHE) : env.CACHE,
          waitUntil,
          strongStamps: faultable(env.KV_CACHE_STAMPS),
          collections: { posts: { consistency: 'strong' } },
        }),
  )
  configs.set(instance, config)
  return config
}

const payloadOf = (instance: Instance, env: Env): Promise<Payload> =>
  getPayload({ config: configFor(instance, env), key: instance, cron: false })

async function api(instance: Instance, request: Request, path: string, env: Env): Promise<Response> {
  await payloadOf(instance, env)
  const url = new URL(request.url)
  const inner = new Request(new URL(path + url.search, url), request)
  return handleEndpoints({ config: configFor(instance, env), request: inner, payloadInstanceCacheKey: instance })
}

interface Write {
  collection: CollectionSlug
  id: number
  data: Record<string, unknown>
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url)
    const match = /^\/(cached|plain)(\/api\/.*)$/.exec(url.pathname)
    if (match) return api(match[1] as Instance, request, match[2]!, env)
    switch (url.pathname) {
      case '/seed':
        return Response.json(await seed(await payloadOf('plain', env)))
      case '/write': {
        const { collection, id, data } = (await request.json()) as Write
        await (await payloadOf('cached', env)).update({ collection, id, data })
        return new Response('ok')
      }
      case '/fault':
        failing = url.searchParams.get('on') === '1'
        return new Response('ok')
      case '/stats':
        return Response.json((await payloadOf('cached', env)).db.kvCache?.breakdown().totals ?? null)
      default:
        return new Response('not found', { status: 404 })
    }
  },
}
