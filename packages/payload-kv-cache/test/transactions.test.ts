import { describe, expect, it } from '@jest/globals'
import { PendingTransactions } from '../src/transactions.js'

describe('pending transactions: what a transaction wrote reaches its commit', () => {
  it('a transaction older than the record age that writes again still invalidates its early writes at commit', () => {
    let now = 0
    const pending = new PendingTransactions(() => now)
    pending.record('long', ['c:posts'])
    // A quarter of an hour later another transaction starts, which sweeps the old record into
    // an orphan; then the long one writes again.
    now = 16 * 60 * 1000
    pending.record('other', ['c:notes'])
    pending.record('long', ['c:authors'])
    expect([...(pending.take('long') ?? [])].sort()).toStrictEqual(['c:authors', 'c:posts'])
    expect(pending.take('long')).toBeUndefined()
    expect([...(pending.take('other') ?? [])]).toStrictEqual(['c:notes'])
    expect(pending.size).toBe(0)
  })

  it('stays bounded when transactions begin and never end (the jobs queue has no rollback path)', () => {
    let now = 0
    const pending = new PendingTransactions(() => now)
    for (let i = 0; i < 30_000; i++) {
      now += 100
      pending.record(i, ['c:payload-jobs'])
    }
    expect(pending.size).toBeLessThanOrEqual(10_000 + 1_000)
    // The newest are still there, numeric ids and their string form alike.
    expect([...(pending.take('29999') ?? [])]).toStrictEqual(['c:payload-jobs'])
  })
})
