import { afterAll, describe, expect, it } from '@jest/globals'
import type { CountingKV } from '@pkc/testkit'
import { countingKV, plant } from '@pkc/testkit'
import { useTestEnv } from './support/env.js'

/**
 * KV operations one database write costs, by strategy and by how many entries its scope holds,
 * counted on the real namespace. PKC_COST_FULL=1 adds 10,000 entries (about a minute).
 */
const env = useTestEnv('sqlite')
const sizes = process.env.PKC_COST_FULL ? [100, 1_000, 10_000] : [100, 1_000]
const rows: string[] = []

afterAll(() => {
  process.stdout.write(
    [
      '',
      'KV operations per database write (create in a scope holding n entries):',
      '| strategy | n | put | delete | list | total | started before the write returned |',
      '|---|---|---|---|---|---|---|',
      ...rows,
      '',
    ].join('\n'),
  )
})

describe.each(['stamp', 'prefix'] as const)('%s strategy', (strategy) => {
  it.each(sizes)('one write with %i entries in its scope', async (n) => {
    let counted!: CountingKV
    const prefix = `cost-${strategy}-${n}`
    const pair = await env.newPair({ prefix, invalidation: strategy, wrapKV: (kv) => (counted = countingKV(kv)) })
    await plant(env.kv(), prefix, 'c:notes', n)
    await pair.cache.settled()
    const before = { ...counted.counts }
    await pair.cached.db.create({ collection: 'notes', data: { text: 'x' } })
    const inline = { ...counted.counts }
    await pair.cache.settled()
    const delta = (what: 'put' | 'delete' | 'list', from = before, to = counted.counts) => to[what] - from[what]
    const total = delta('put') + delta('delete') + delta('list')
    rows.push(
      `| ${strategy} | ${n} | ${delta('put')} | ${delta('delete')} | ${delta('list')} | ${total} | ${delta('put', before, inline) + delta('delete', before, inline) + delta('list', before, inline)} |`,
    )
    if (strategy === 'stamp') {
      // The collection's stamp, its membership stamp (listPrecision) and the new document's
      // (documentStamps), whatever the scope holds.
      expect(delta('put')).toBe(3)
      const [collection, membership, document] = [...counted.puts.slice(-3)].sort()
      expect(collection).toBe(`${prefix}:stamp:c:notes`)
      expect(membership).toBe(`${prefix}:stamp:c:notes#+`)
      expect(document).toMatch(new RegExp(`^${prefix}:stamp:c:notes#=`))
      expect(delta('delete') + delta('list')).toBe(0)
    } else {
      expect(delta('put')).toBe(0)
      expect(delta('delete')).toBe(n)
      // 1,000 keys a page; a full last page may or may not say list_complete. Plus one list of
      // payload-locked-documents' entries, whose polymorphic relationship reaches every
      // collection (not cached here, but another deploy may cache it: README, Across deploys).
      expect(delta('list')).toBeGreaterThanOrEqual(Math.ceil(n / 1000) + 1)
      expect(delta('list')).toBeLessThanOrEqual(Math.floor(n / 1000) + 2)
    }
  })
})
