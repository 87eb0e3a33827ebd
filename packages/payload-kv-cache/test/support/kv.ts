import { Miniflare } from 'miniflare'
import type { KVNamespaceLike } from '../../src/index.js'

export interface KVServer {
  kv: KVNamespaceLike
  dispose(): Promise<void>
}

/** Miniflare's KV: the implementation `wrangler dev` runs. One per test file. */
export async function startKV(): Promise<KVServer> {
  const mf = new Miniflare({ modules: true, script: 'export default {}', kvNamespaces: ['CACHE'], cf: false })
  const kv = (await mf.getKVNamespace('CACHE')) as unknown as KVNamespaceLike
  return { kv, dispose: () => mf.dispose() }
}
