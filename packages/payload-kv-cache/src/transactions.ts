import type { StampScope } from './stamps.js'

export type TransactionID = number | string

interface PendingRecord {
  scopes: Set<StampScope>
  startedAt: number
}

const MAX_RECORDS = 10_000
const MAX_AGE_MS = 15 * 60 * 1000
const MAX_ORPHANS = 1_000

/**
 * Scopes written inside transactions, invalidated when the transaction commits
 * (ARCHITECTURE.md, write path step 2). Bounded: the jobs queue can begin a transaction with no rollback path, so
 * records expire. An expired record is kept, smaller, as an orphan, so that a very late
 * commit still invalidates what it wrote.
 */
export class PendingTransactions {
  // Keyed by the id as a string: sessions are an object, so its keys are strings even when
  // an adapter's ids are numbers.
  private readonly records = new Map<string, PendingRecord>()
  private readonly orphans = new Map<string, Set<StampScope>>()

  constructor(private readonly clock: () => number) {}

  record(id: TransactionID, scopes: Iterable<StampScope>): void {
    const key = String(id)
    let record = this.records.get(key)
    if (!record) {
      this.sweep()
      record = { scopes: new Set(), startedAt: this.clock() }
      this.records.set(key, record)
    }
    for (const scope of scopes) record.scopes.add(scope)
  }

  /**
   * Removes and returns what the transaction wrote: its record and, when it outlived the
   * record's age and wrote again, the orphan its earlier writes were swept into.
   */
  take(id: TransactionID): Set<StampScope> | undefined {
    const key = String(id)
    const record = this.records.get(key)
    const orphan = this.orphans.get(key)
    this.records.delete(key)
    this.orphans.delete(key)
    if (!record) return orphan
    if (orphan) for (const scope of orphan) record.scopes.add(scope)
    return record.scopes
  }

  get size(): number {
    return this.records.size + this.orphans.size
  }

  private sweep(): void {
    const now = this.clock()
    // Maps iterate in insertion order, so the oldest records come first.
    for (const [id, record] of this.records) {
      if (this.records.size < MAX_RECORDS && now - record.startedAt < MAX_AGE_MS) break
      this.records.delete(id)
      this.orphans.set(id, record.scopes)
    }
    for (const id of this.orphans.keys()) {
      if (this.orphans.size <= MAX_ORPHANS) break
      this.orphans.delete(id)
    }
  }
}
