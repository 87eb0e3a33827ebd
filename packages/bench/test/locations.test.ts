import { afterAll, beforeAll, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import type { Ids } from '@pkc-examples/magazine'
import { Miniflare } from 'miniflare'
import { benchRoot, buildWorker, quietEnv } from '../src/d1.js'

/**
 * Strong consistency (issue 15) inside workerd, with two Workers standing for two locations:
 * Miniflare runs test/locations/worker.ts twice, as A and B, over one D1, one KV namespace
 * and one Durable Object namespace (A hosts `KVCacheStamps`, B binds to it). `posts` is
 * strong and `categories` eventual in both. B's KV sits behind a location cache
 * (test/locations/lagging-kv.ts): what B fetched it is answered again for the read's
 * `cacheTtl` (the library asks 30 s), so A's stamp writes stay unseen in B that long.
 * A write through A, then a read through B: the strong scope must equal the database, the
 * eventual one is allowed to be stale (and is, which shows the lag is real).
 */
const LAG_MS = 30_000
type Location = 'a' | 'b'

let bundle: string
let schema: string
let state: string
let mf: Miniflare
let ids: Ids

beforeAll(async () => {
  // One bundle for both locations, built once for the file.
  bundle = buildWorker(join(benchRoot, 'test/locations/wrangler.jsonc'), 'worker.js')
  const printed = execFileSync(join(benchRoot, 'node_modules/.bin/tsx'), ['src/schema-cli.ts'], {
    cwd: benchRoot,
    env: quietEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  schema = printed.toString().trim().split('\n').at(-1)!
  state = mkdtempSync(join(tmpdir(), 'pkc-locations-'))
  cpSync(schema, state, { recursive: true })
  const location = (name: Location) => ({
    name,
    routes: [`${name}.test/*`],
    // Listed, not discovered: Miniflare cannot follow Payload's computed dynamic imports.
    modules: [{ type: 'ESModule' as const, path: bundle }],
    modulesRoot: dirname(bundle),
    compatibilityDate: '2026-04-20',
    compatibilityFlags: ['nodejs_compat'],
    d1Databases: { D1: 'local-payload' },
    kvNamespaces: { CACHE: 'local-cache' },
    durableObjects: { KV_CACHE_STAMPS: name === 'a' ? 'KVCacheStamps' : { className: 'KVCacheStamps', scriptName: 'a' } },
    bindings: { LAG: name === 'b' ? '1' : '0' },
  })
  mf = new Miniflare({
    d1Persist: join(state, 'd1'),
    cf: false,
    workers: [location('a'), location('b')],
    handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
      stdout.resume()
      stderr.resume()
    },
  })
  const seeded = await mf.dispatchFetch('http://a.test/seed', { method: 'POST' })
  if (seeded.status !== 200) throw new Error(`seeding failed: ${await seeded.text()}`)
  ids = (await seeded.json()) as Ids
}, 300_000)

afterAll(async () => {
  await mf?.dispose()
  if (bundle) rmSync(dirname(bundle), { recursive: true, force: true })
  for (const dir of [schema, state]) if (dir) rmSync(dir, { recursive: true, force: true })
})

async function read(location: Location, instance: 'cached' | 'plain', path: string): Promise<Record<string, unknown>> {
  const response = await mf.dispatchFetch(`http://${location}.test/${instance}/api/${path}`)
  const body = (await response.json()) as Record<string, unknown>
  if (response.status !== 200) throw new Error(`${location} ${instance} ${path}: ${response.status} ${JSON.stringify(body)}`)
  return body
}

type Totals = Record<string, number>
async function totals(location: Location): Promise<Totals> {
  return (await (await mf.dispatchFetch(`http://${location}.test/stats`)).json()) as Totals
}
const delta = (after: Totals, before: Totals, name: string) => (after[name] ?? 0) - (before[name] ?? 0)

async function write(location: Location, collection: 'posts' | 'categories', id: number | string, data: Record<string, unknown>) {
  const response = await mf.dispatchFetch(`http://${location}.test/write`, {
    method: 'POST',
    body: JSON.stringify({ collection, id, data }),
  })
  expect(await response.text()).toBe('ok')
}

/** Reads `path` through B until one is a KV hit: its fill runs in `waitUntil` and lands a moment later. */
async function cachedInB(path: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const before = await totals('b')
    await read('b', 'cached', path)
    if (delta(await totals('b'), before, 'hits') === 1) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${path} never became a KV hit in B`)
}

it('a write through A is seen at once by a strong read through B, while B serves the eventual scope stale within its lag', async () => {
  const post = `posts/${ids.posts[0]}?depth=0`
  const category = `categories/${ids.categories[0]}?depth=0`
  const started = Date.now()
  await cachedInB(post)
  await cachedInB(category)
  const oldCategory = await read('b', 'cached', category)

  await write('a', 'posts', ids.posts[0]!, { views: 4242 })
  await write('a', 'categories', ids.categories[0]!, { title: 'Retitled in A' })

  const before = await totals('b')
  const strong = await read('b', 'cached', post)
  const eventual = await read('b', 'cached', category)
  const after = await totals('b')
  // Within B's lag, or the eventual scope would be fresh and prove nothing about the lag.
  expect(Date.now() - started).toBeLessThan(LAG_MS)

  expect(strong).toStrictEqual(await read('b', 'plain', post))
  expect(strong.views).toBe(4242)
  // The strong read went to the database because its Durable Object tokens had changed,
  // not because the object failed.
  expect(delta(after, before, 'bypassesStrong')).toBe(0)
  expect(delta(after, before, 'strongReads')).toBeGreaterThan(0)

  // The control: the eventual scope in B is stale, as guarantee 1 allows, so B's KV did lag.
  expect(eventual).toStrictEqual(oldCategory)
  expect((await read('b', 'plain', category)).title).toBe('Retitled in A')
}, 120_000)

it('a Durable Object that throws in B turns its strong reads into database reads, counted, with no error', async () => {
  const post = `posts/${ids.posts[1]}?depth=0`
  const category = `categories/${ids.categories[1]}?depth=0`
  await cachedInB(post)
  await cachedInB(category)
  await write('a', 'posts', ids.posts[1]!, { views: 777 })
  await (await mf.dispatchFetch('http://b.test/fault?on=1')).text()
  try {
    const before = await totals('b')
    const strong = await read('b', 'cached', post)
    const eventual = await read('b', 'cached', category)
    const after = await totals('b')
    expect(strong).toStrictEqual(await read('b', 'plain', post))
    expect(strong.views).toBe(777)
    expect(delta(after, before, 'bypassesStrong')).toBe(1)
    // The eventual scope needs no object: still a hit.
    expect(eventual.title).toBe((await read('b', 'plain', category)).title)
    expect(delta(after, before, 'hits')).toBe(1)
  } finally {
    await (await mf.dispatchFetch('http://b.test/fault?on=0')).text()
  }
}, 120_000)
