/**
 * Section 4: what one write costs in KV operations and wall time when its scope holds n
 * cached entries, stamp against prefix, next to the same write without the cache. The
 * approach of packages/payload-kv-cache/test/cost.test.ts: entries planted straight into
 * Miniflare's KV under the scope's prefix, then one Local API update, counted.
 */
import { postgresAdapter } from '@payloadcms/db-postgres'
import { siteConfig } from '@pkc-examples/magazine/config'
import type { KVCounts, PostgresServer } from '@pkc/testkit'
import { closePayload, countingKV, diff, median, plant } from '@pkc/testkit'
import type { Payload } from 'payload'
import { getPayload } from 'payload'
import type { KVNamespaceLike } from 'payload-kv-cache'
import { withKVCache } from 'payload-kv-cache'

export type Strategy = 'none' | 'stamp' | 'prefix'

export interface InvalidationRow {
  strategy: Strategy
  entries: number
  repeats: number
  /** KV operations, summed from the write's start until all its background work settled. */
  ops: KVCounts
  /** Of those, the writes, deletes and lists made before the write returned. */
  inlineWriteOps: number
  /** Median ms until `payload.update` returned, and until the invalidation was complete. */
  returnedMs: number
  completeMs: number
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export async function measureInvalidation(
  server: PostgresServer,
  kv: KVNamespaceLike,
  sizes: readonly number[],
  repeatsFor: (n: number) => number,
  progress: (line: string) => void,
): Promise<InvalidationRow[]> {
  const pool = { connectionString: await server.createDatabase('bench'), max: 10 }
  const counting = countingKV(kv)
  const payloads = new Map<Strategy, Payload>()
  payloads.set(
    'none',
    await getPayload({ config: siteConfig(postgresAdapter({ pool, push: true })), key: 'invalidation-none', cron: false }),
  )
  for (const strategy of ['stamp', 'prefix'] as const) {
    const adapter = withKVCache(postgresAdapter({ pool, push: false }), { kv: counting, invalidation: strategy, prefix: `inv-${strategy}` })
    payloads.set(strategy, await getPayload({ config: siteConfig(adapter), key: `invalidation-${strategy}`, cron: false }))
  }
  const plain = payloads.get('none')!
  const author = await plain.create({ collection: 'authors', data: { name: 'Ada Lovelace' } })
  const post = await plain.create({
    collection: 'posts',
    data: { title: 'Invalidated', views: 0, author: author.id, _status: 'published' },
  })
  const rows: InvalidationRow[] = []
  let lastWrite = 0
  let views = 0
  try {
    for (const strategy of ['none', 'stamp', 'prefix'] as const) {
      const payload = payloads.get(strategy)!
      let planted = 0
      for (const entries of sizes) {
        const repeats = repeatsFor(entries)
        const returned: number[] = []
        const complete: number[] = []
        let ops: KVCounts = { get: 0, put: 0, delete: 0, list: 0 }
        let inlineWriteOps = 0
        for (let r = 0; r < repeats; r++) {
          // The prefix strategy deleted them last time; stamps leave them, so top up only.
          if (strategy === 'prefix') planted = 0
          if (strategy !== 'none' && planted < entries) {
            await plant(kv, `inv-${strategy}`, 'c:posts', entries - planted, { from: planted, ttlSeconds: 3600 })
            planted = entries
          }
          await payload.db.kvCache?.settled()
          // KV takes one write a second per key: a second stamp bump within it would be a
          // coalesced trailing write, which is section 1's business, not this one's.
          await sleep(Math.max(0, lastWrite + 1100 - Date.now()))
          const before = { ...counting.counts }
          const started = performance.now()
          await payload.update({ collection: 'posts', id: post.id, data: { views: ++views } })
          returned.push(performance.now() - started)
          const inline = diff(counting.counts, before)
          await payload.db.kvCache?.settled()
          complete.push(performance.now() - started)
          lastWrite = Date.now()
          const all = diff(counting.counts, before)
          ops = { get: ops.get + all.get, put: ops.put + all.put, delete: ops.delete + all.delete, list: ops.list + all.list }
          inlineWriteOps += inline.put + inline.delete + inline.list
        }
        const per = (value: number) => Math.round(value / repeats)
        rows.push({
          strategy,
          entries,
          repeats,
          ops: { get: per(ops.get), put: per(ops.put), delete: per(ops.delete), list: per(ops.list) },
          inlineWriteOps: per(inlineWriteOps),
          returnedMs: median(returned),
          completeMs: median(complete),
        })
        progress(
          `    ${strategy}, ${entries} entries: ${median(returned).toFixed(1)} ms to return, ${median(complete).toFixed(1)} ms to complete`,
        )
      }
    }
  } finally {
    for (const payload of payloads.values()) await closePayload(payload).catch(() => undefined)
  }
  return rows
}
