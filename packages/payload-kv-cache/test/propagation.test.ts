import { expect, it } from '@jest/globals'
import type { Payload } from 'payload'
import type { KVNamespaceLike } from '../src/index.js'
import { useTestEnv } from './support/env.js'

const env = useTestEnv('sqlite')

/**
 * The real namespace, but stamp reads answer what they answered before the latest put, as a
 * Cloudflare location cache may for up to about 60 s. Miniflare is strongly consistent, so
 * the lag is injected around it.
 */
function laggingStamps(kv: KVNamespaceLike): KVNamespaceLike & { lag: boolean } {
  const seen = new Map<string, string | null>()
  const wrapper = {
    lag: false,
    async get(key: string | string[], type: 'text') {
      const map = await kv.get(key as string[], type)
      for (const [k, v] of map) {
        if (!k.includes(':stamp:')) continue
        if (wrapper.lag && seen.has(k)) map.set(k, seen.get(k)!)
        else seen.set(k, v)
      }
      return map
    },
    put: kv.put.bind(kv),
    delete: kv.delete.bind(kv),
    list: kv.list.bind(kv),
  }
  return wrapper as unknown as KVNamespaceLike & { lag: boolean }
}

it('the writing isolate never reads its own write back stale, even when KV serves an older stamp', async () => {
  let kv!: ReturnType<typeof laggingStamps>
  const pair = await env.newPair({
    wrapKV: (real) => {
      kv = laggingStamps(real)
      return kv
    },
  })
  const note = await pair.cached.create({ collection: 'notes', data: { text: 'before' } })
  const read = (p: Payload) => p.findByID({ collection: 'notes', id: note.id })
  await read(pair.cached)
  await pair.cache.settled()
  expect((await read(pair.cached)).text).toBe('before')
  kv.lag = true
  await pair.cached.update({ collection: 'notes', id: note.id, data: { text: 'after' } })
  const after = await read(pair.cached)
  expect(after.text).toBe('after')
  expect(after).toStrictEqual(await read(pair.plain))
})
