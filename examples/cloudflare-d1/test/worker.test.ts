import { afterAll, beforeAll, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Miniflare } from 'miniflare'

/**
 * The example as Cloudflare would run it: the Worker bundle wrangler builds, inside workerd
 * (Miniflare), on a local D1 whose tables `pnpm schema` created from Node, with KV.
 */
const root = join(import.meta.dirname, '..')
const state = mkdtempSync(join(tmpdir(), 'pkc-d1-'))
const quiet = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', D1_PERSIST: state }
let mf: Miniflare

beforeAll(async () => {
  execFileSync(join(root, 'node_modules/.bin/wrangler'), ['deploy', '--dry-run', '--outdir', 'dist'], {
    cwd: root,
    env: quiet,
    stdio: 'pipe',
  })
  execFileSync(join(root, 'node_modules/.bin/tsx'), ['src/schema.ts'], { cwd: root, env: quiet, stdio: 'pipe' })
  mf = new Miniflare({
    // Listed, not discovered: Miniflare cannot follow Payload's computed dynamic imports.
    modules: [{ type: 'ESModule', path: join(root, 'dist/worker.js') }],
    compatibilityDate: '2026-04-20',
    compatibilityFlags: ['nodejs_compat'],
    d1Databases: { D1: 'local-payload' },
    kvNamespaces: { CACHE: 'local-cache' },
    durableObjects: { KV_CACHE_STAMPS: 'KVCacheStamps' },
    d1Persist: join(state, 'd1'),
    cf: false,
  })
}, 240_000)

afterAll(async () => {
  await mf?.dispose()
  rmSync(state, { recursive: true, force: true })
})

async function call(
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; cache: string | null; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (token) headers.authorization = `JWT ${token}`
  const response = await mf.dispatchFetch(`http://localhost${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: response.status, cache: response.headers.get('x-kv-cache'), json: (await response.json()) as Record<string, unknown> }
}

it('create, read twice (the second from KV), update, read fresh, delete: through Payload REST inside workerd', async () => {
  const registered = await call('POST', '/api/users/first-register', {
    email: 'editor@example.com',
    password: 'correct horse battery staple',
  })
  expect(registered.status).toBe(200)
  const token = registered.json.token as string

  const created = await call('POST', '/api/categories', { title: 'News' }, token)
  expect(created.status).toBe(201)
  const id = (created.json.doc as { id: number }).id

  const first = await call('GET', `/api/categories/${id}`)
  expect(first.status).toBe(200)
  expect(first.json.title).toBe('News')
  expect(first.cache).toBe('hits=0; misses=1')
  const second = await call('GET', `/api/categories/${id}`)
  expect(second.cache).toBe('hits=1; misses=0')
  expect(second.json).toStrictEqual(first.json)

  const updated = await call('PATCH', `/api/categories/${id}`, { title: 'World' }, token)
  expect(updated.status).toBe(200)
  const fresh = await call('GET', `/api/categories/${id}`)
  expect(fresh.json.title).toBe('World')
  expect(fresh.cache).toBe('hits=0; misses=1')

  const deleted = await call('DELETE', `/api/categories/${id}`, undefined, token)
  expect(deleted.status).toBe(200)
  const gone = await call('GET', `/api/categories/${id}`)
  expect(gone.status).toBe(404)
})
