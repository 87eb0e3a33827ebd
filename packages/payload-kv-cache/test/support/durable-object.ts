import { readFileSync } from 'node:fs'
import { Miniflare } from 'miniflare'
import ts from 'typescript'
import type { DurableObjectNamespaceLike } from '../../src/index.js'

/**
 * Miniflare's Durable Objects running the library's own `KVCacheStamps` class
 * (src/durable-object.ts, compiled here so a test never runs a stale build), behind a small
 * Worker reached over `dispatchFetch` (Miniflare's Node proxy of bindings is unreliable under
 * load: see d1.ts). `namespace` is what a site passes as `strongStamps`; `fault` makes every
 * call fail or hang from Node's side, as an unreachable or slow object would.
 */
export interface StampObjects {
  namespace: DurableObjectNamespaceLike
  fault: 'none' | 'error' | 'hang'
  /** Calls that reached an object, by kind. */
  calls: { read: number; bump: number }
  dispose(): Promise<void>
}

const WORKER = `
export { KVCacheStamps } from './durable-object.js'
export default {
  async fetch(request, env) {
    const name = decodeURIComponent(new URL(request.url).pathname.slice(1))
    return env.STAMPS.get(env.STAMPS.idFromName(name)).fetch(request)
  },
}
`

export async function startStampObjects(): Promise<StampObjects> {
  const source = readFileSync(new URL('../../src/durable-object.ts', import.meta.url), 'utf8')
  const compiled = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText
  const mf = new Miniflare({
    modules: [
      { type: 'ESModule', path: 'index.mjs', contents: WORKER },
      { type: 'ESModule', path: 'durable-object.js', contents: compiled },
    ],
    durableObjects: { STAMPS: 'KVCacheStamps' },
    compatibilityDate: '2026-04-20',
  })
  await mf.ready
  const objects: StampObjects = {
    fault: 'none',
    calls: { read: 0, bump: 0 },
    namespace: {
      idFromName: (name: string) => name,
      get: (id: never) => ({
        async fetch(_input: string, init?: { method?: string; body?: string; headers?: Record<string, string> }) {
          if (objects.fault === 'error') throw new Error('Durable Object unreachable (injected)')
          if (objects.fault === 'hang') return new Promise<never>(() => undefined)
          const op = (JSON.parse(init?.body ?? '{}') as { op?: 'read' | 'bump' }).op
          if (op) objects.calls[op]++
          const response = await mf.dispatchFetch(`http://stamps/${encodeURIComponent(String(id))}`, init)
          const text = await response.text()
          return { ok: response.ok, status: response.status, json: async () => JSON.parse(text) as unknown }
        },
      }),
    },
    dispose: () => mf.dispose(),
  }
  return objects
}
