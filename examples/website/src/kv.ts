import type { KVNamespaceLike } from 'payload-kv-cache'

type WithKV = typeof globalThis & { __pkcWebsiteKV?: Promise<KVNamespaceLike> }

/**
 * Miniflare's KV, one namespace per server process. Kept on globalThis, as Payload keeps its
 * instance: Next can evaluate the config module more than once in a process (route handlers
 * and pages are separate bundles, and `next dev` reloads it), and every copy must see the
 * same entries and stamps, as every request of one Worker isolate sees one binding. Started
 * on first use, so that `next build` importing the config starts nothing.
 */
function namespace(): Promise<KVNamespaceLike> {
  const scope = globalThis as WithKV
  scope.__pkcWebsiteKV ??= (async () => {
    const { Miniflare } = await import('miniflare')
    const mf = new Miniflare({ modules: true, script: 'export default {}', kvNamespaces: ['CACHE'], cf: false })
    // Miniflare's declarations type it through @cloudflare/workers-types, not installed here.
    return (await mf.getKVNamespace('CACHE')) as unknown as KVNamespaceLike
  })()
  return scope.__pkcWebsiteKV
}

/** A KV namespace whose calls wait for Miniflare to start: withKVCache needs the binding at config time. */
export const miniflareKV: KVNamespaceLike = {
  get: (async (key: string | string[], type: 'text') => (await namespace()).get(key as string, type)) as KVNamespaceLike['get'],
  put: async (key, value, options) => (await namespace()).put(key, value, options),
  delete: async (key) => (await namespace()).delete(key),
  list: async (options) => (await namespace()).list(options),
}

/** Starts Miniflare now (src/instrumentation.ts, when the server starts), so the first page's reads do not wait for workerd past kvTimeoutMs. */
export const startKV = async (): Promise<void> => {
  await namespace()
}
