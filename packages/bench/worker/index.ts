/**
 * The bench Worker: the cloudflare-d1 example's app (the magazine on D1, payload-kv-cache on
 * KV), but with several Payload instances in one isolate, so that cached and uncached
 * answers are compared on the same database, the same bundle and the same moment.
 *
 *   /v/<variant>/api/...   Payload's REST API through one variant (see VARIANTS)
 *   /bench/seed            the magazine's content, through the uncached instance; answers its ids
 *   /bench/write           an editor's save, through the cached instance's Local API (?variant= another
 *                          cached one); answers `x-strong-bumps`, the Durable Object calls it made
 *   /bench/kv              a bare KV get of an entry under ?prefix= (the floor of a hit)
 *   /bench/empty           nothing at all (what dispatchFetch itself costs)
 *   /bench/state           counters, cache stats and the engine's map sizes
 *   /bench/burst           ?n= concurrent identical-ish misses; the engine's maps at their fullest
 *   /bench/edit            an editorial save (JSON body: an EditorialWrite), through the cached instance;
 *                          answers the id it created and the database calls it made
 *   /bench/kv-counts       the cached instance's KV operations, charged to reads or writes
 *
 * SITE picks the app: the magazine (default) or the editorial site (src/editorial).
 * Each Payload response carries `x-db-reads` (database reads it caused),
 * `x-kv-cache: hits=N; lookups=M` and `x-strong-reads` (Durable Object calls it made). Only one request per variant is in flight at a time, so
 * the deltas belong to that request.
 */
import { waitUntil } from 'cloudflare:workers'
import { sqliteD1Adapter } from '@payloadcms/db-d1-sqlite'
import { siteConfig } from '@pkc-examples/magazine/config'
import { seed } from '@pkc-examples/magazine/seed'
// The pure subpath: the package's main entry starts Postgres and Miniflare, which no Worker bundles.
import { lookupsOf } from '@pkc/testkit/stats'
import type { DatabaseAdapterObj, Payload, SanitizedConfig } from 'payload'
import { getPayload, handleEndpoints } from 'payload'
import type { DurableObjectNamespaceLike, KVNamespaceLike } from 'payload-kv-cache'
import { withKVCache } from 'payload-kv-cache'
import type { CallCounter } from '../src/adapters.js'
import { counted, delayed, memoized } from '../src/adapters.js'
import { editorialConfig } from '../src/editorial/config.js'
import type { EditorialIds } from '../src/editorial/seed.js'
import { seedEditorial } from '../src/editorial/seed.js'
import type { EditorialWrite } from '../src/editorial/writes.js'
import { applyWrite } from '../src/editorial/writes.js'
import type { PhasedKV } from '../src/phased-kv.js'
import { phasedKV } from '../src/phased-kv.js'

// The strong variants' stamps live in this Durable Object class, bound as KV_CACHE_STAMPS (wrangler.jsonc).
export { KVCacheStamps } from 'payload-kv-cache/durable-object'

interface Env {
  D1: Parameters<typeof sqliteD1Adapter>[0]['binding']
  CACHE: KVNamespaceLike
  KV_CACHE_STAMPS: DurableObjectNamespaceLike
  /** 'stamp' or 'prefix'. */
  STRATEGY?: string
  /** Milliseconds the origin-latency model adds to each database call. */
  ORIGIN_DELAY_MS?: string
  /** 'magazine' (default) or 'editorial'. */
  SITE?: string
  /** The cached instances' `listPrecision`: 'true' or 'false'; unset leaves the library's default. */
  LIST_PRECISION?: string
}

/** `strong`: every collection and global of the magazine has `consistency: 'strong'`. */
const VARIANTS = {
  plain: { cache: false, delay: false, memory: false, strong: false },
  cached: { cache: true, delay: false, memory: false, strong: false },
  'plain-delayed': { cache: false, delay: true, memory: false, strong: false },
  'cached-delayed': { cache: true, delay: true, memory: false, strong: false },
  memory: { cache: false, delay: false, memory: true, strong: false },
  strong: { cache: true, delay: false, memory: false, strong: true },
  'strong-delayed': { cache: true, delay: true, memory: false, strong: true },
} as const
type Variant = keyof typeof VARIANTS

const counters = new Map<Variant, CallCounter>()
/** Set during a burst: samples the cached engine's maps as each database call starts. */
let sampler: (() => void) | undefined
const configs = new Map<Variant, Promise<SanitizedConfig>>()
/** The 'cached' variant's KV, counted by phase; the other variants' KV is not counted. */
let phased: PhasedKV | undefined
/** The editorial site's ids, from its seeding: its saves need the authors and categories. */
let editorialIds: EditorialIds | undefined

function configFor(variant: Variant, env: Env): Promise<SanitizedConfig> {
  let config = configs.get(variant)
  if (config) return config
  const shape = VARIANTS[variant]
  const counter: CallCounter = { reads: 0, writes: 0 }
  counters.set(variant, counter)
  // Tables come from Node before the Worker starts: never push from here. The counter sits
  // beneath the cache, so a read the cache makes itself on the inner adapter is counted too.
  let adapter: DatabaseAdapterObj = counted(sqliteD1Adapter({ binding: env.D1, push: false }), counter, () => sampler?.())
  if (shape.delay) adapter = delayed(adapter, Number(env.ORIGIN_DELAY_MS ?? 20))
  if (shape.memory) adapter = memoized(adapter)
  if (shape.cache) {
    const invalidation = env.STRATEGY === 'prefix' ? 'prefix' : 'stamp'
    let kv = env.CACHE
    if (variant === 'cached') kv = (phased = phasedKV(env.CACHE)).kv
    const listPrecision = env.LIST_PRECISION === undefined ? {} : { listPrecision: env.LIST_PRECISION === 'true' }
    const strong = shape.strong ? strongScopes(env) : {}
    // Each cached variant its own prefix: they share one namespace as two sites would.
    adapter = withKVCache(adapter, { kv, waitUntil, invalidation, prefix: variant, ...listPrecision, ...strong })
  }
  config = env.SITE === 'editorial' ? editorialConfig(adapter) : siteConfig(adapter)
  configs.set(variant, config)
  return config
}

/** The magazine's scopes, all strong: the slugs are the magazine's, which the options check at start-up. */
function strongScopes(env: Env) {
  if (env.SITE === 'editorial') throw new Error('the strong variants serve the magazine only')
  const strong = { consistency: 'strong' } as const
  return {
    strongStamps: env.KV_CACHE_STAMPS,
    collections: { authors: strong, categories: strong, posts: strong },
    globals: { site: strong },
  }
}

/** Durable Object calls this instance has made so far: reads, or bumps (retries included). */
const strongCalls = (payload: Payload, kind: 'strongReads' | 'strongBumps') => payload.db.kvCache?.breakdown().totals[kind] ?? 0

const payloadOf = (variant: Variant, env: Env): Promise<Payload> =>
  getPayload({ config: configFor(variant, env), key: variant, cron: false })

async function api(variant: Variant, request: Request, path: string, env: Env): Promise<Response> {
  const payload = await payloadOf(variant, env)
  if (variant === 'cached' && phased) phased.phase = 'read'
  const counter = counters.get(variant)!
  const readsBefore = counter.reads
  const strongBefore = strongCalls(payload, 'strongReads')
  const before = payload.db.kvCache?.stats()
  const url = new URL(request.url)
  const inner = new Request(new URL(path + url.search, url), request)
  const response = await handleEndpoints({ config: configFor(variant, env), request: inner, payloadInstanceCacheKey: variant })
  const headers = new Headers(response.headers)
  headers.set('x-db-reads', String(counter.reads - readsBefore))
  headers.set('x-strong-reads', String(strongCalls(payload, 'strongReads') - strongBefore))
  const after = payload.db.kvCache?.stats()
  if (before && after) headers.set('x-kv-cache', `hits=${after.hits - before.hits}; lookups=${lookupsOf(after) - lookupsOf(before)}`)
  return new Response(response.body, { status: response.status, headers })
}

/** Keys listed once per prefix: the listing is not what a bare get is meant to time. */
const listed = new Map<string, string[]>()

async function bareGets(env: Env, prefix: string, count: number): Promise<Response> {
  let keys = listed.get(prefix)
  if (!keys) {
    keys = (await env.CACHE.list({ prefix, limit: 100 })).keys.map((k) => k.name)
    listed.set(prefix, keys)
  }
  if (keys.length === 0) return new Response(`no key under ${prefix}`, { status: 404 })
  let bytes = 0
  // Sequential, as the cache's lookups within one Payload request are.
  for (let i = 0; i < count; i++) bytes += (await env.CACHE.get(keys[i % keys.length]!, 'text'))?.length ?? 0
  return new Response(String(bytes))
}

type Footprint = Record<string, number>

function footprintOf(payload: Payload): Footprint | undefined {
  return payload.db.kvCache?.footprint()
}

/**
 * Many reads at once on a just-invalidated scope, 20 distinct queries among them: every
 * one misses, and identical ones join the first one's database call. The maps are sampled
 * as each database call starts, when every miss before it has registered.
 */
async function burst(env: Env, calls: number): Promise<Response> {
  const payload = await payloadOf('cached', env)
  await payload.db.kvCache?.invalidate({ collections: ['posts'] })
  const peak: Footprint = {}
  sampler = () => {
    for (const [name, size] of Object.entries(footprintOf(payload) ?? {})) peak[name] = Math.max(peak[name] ?? 0, size)
  }
  try {
    await Promise.all(
      Array.from({ length: calls }, (_, i) =>
        payload.find({ collection: 'posts', where: { views: { greater_than: (i % 20) * 25 } }, limit: 5, depth: 0 }),
      ),
    )
  } finally {
    sampler = undefined
  }
  // The fills run through waitUntil, which settled() does not track: read "after" in a later request.
  return Response.json({ calls, peak: footprintOf(payload) ? peak : undefined, stats: payload.db.kvCache?.stats() })
}

/** One editorial save through the cached instance, with the database calls it made beneath the cache. */
async function edit(env: Env, write: EditorialWrite): Promise<Response> {
  if (!editorialIds) return new Response('seed the editorial site first', { status: 409 })
  const payload = await payloadOf('cached', env)
  if (phased) phased.phase = 'write'
  const counter = counters.get('cached')!
  const reads = counter.reads
  const writes = counter.writes
  const { id } = await applyWrite(payload, editorialIds, write)
  return Response.json({ id, dbReads: counter.reads - reads, dbWrites: counter.writes - writes })
}

async function state(env: Env): Promise<Response> {
  const out: Record<string, unknown> = {}
  for (const variant of configs.keys()) {
    const payload = await payloadOf(variant, env)
    out[variant] = { counter: counters.get(variant), stats: payload.db.kvCache?.stats(), footprint: footprintOf(payload) }
  }
  return Response.json(out)
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url)
    const match = /^\/v\/([a-z-]+)(\/api\/.*)$/.exec(url.pathname)
    if (match && match[1]! in VARIANTS) return api(match[1] as Variant, request, match[2]!, env)
    switch (url.pathname) {
      case '/bench/empty':
        return new Response('')
      case '/bench/kv':
        return bareGets(env, url.searchParams.get('prefix') ?? '', Number(url.searchParams.get('n') ?? 1))
      case '/bench/write': {
        const variant = url.searchParams.get('variant') ?? 'cached'
        if (!(variant in VARIANTS) || !VARIANTS[variant as Variant].cache)
          return new Response(`no cached variant ${variant}`, { status: 400 })
        const payload = await payloadOf(variant as Variant, env)
        const id = Number(url.searchParams.get('id'))
        const bumps = strongCalls(payload, 'strongBumps')
        await payload.update({ collection: 'posts', id, data: { views: Number(url.searchParams.get('views')) } })
        return new Response('ok', { headers: { 'x-strong-bumps': String(strongCalls(payload, 'strongBumps') - bumps) } })
      }
      case '/bench/seed': {
        const plain = await payloadOf('plain', env)
        if (env.SITE !== 'editorial') return Response.json(await seed(plain))
        editorialIds = await seedEditorial(plain)
        return Response.json(editorialIds)
      }
      case '/bench/edit':
        return edit(env, (await request.json()) as EditorialWrite)
      case '/bench/kv-counts':
        return Response.json(phased?.counts ?? null)
      case '/bench/burst':
        return burst(env, Number(url.searchParams.get('n') ?? 240))
      case '/bench/state':
        return state(env)
      default:
        return new Response('not found', { status: 404 })
    }
  },
}
