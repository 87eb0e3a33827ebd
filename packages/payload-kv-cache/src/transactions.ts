import type { StampScope } from './invalidation/stamps.js'
import type { TransactionIDLike } from './invalidation/strategy.js'

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

/**
 * Which transactions are live, and which are ending. A transaction is live when its id
 * resolves to one the inner adapter holds a session for. The adapters take the session out of
 * their registry before the COMMIT runs, so a commit or rollback in progress is kept here
 * until it has landed: a write that returns meanwhile waits for it (write.ts).
 */
export class TransactionTracker {
  readonly pending: PendingTransactions
  private readonly ending = new Map<string, Promise<void>>()

  constructor(
    clock: () => number,
    private readonly sessions: () => Record<string | number, unknown> | undefined,
  ) {
    this.pending = new PendingTransactions(clock)
  }

  /** The live transaction a call runs in, or null (none, a closed one, a `Promise<null>`). */
  async live(req: { transactionID?: TransactionIDLike } | undefined): Promise<TransactionID | null> {
    const pending = req?.transactionID
    if (pending === undefined || pending === null) return null
    let id: unknown
    try {
      id = await pending
    } catch {
      return null
    }
    if (typeof id !== 'string' && typeof id !== 'number') return null
    return this.isLive(id) ? id : null
  }

  /**
   * Whether a call belongs to a write operation that runs without a transaction (D1, which
   * has none; SQLite, Postgres or MongoDB with them off). Payload's `initTransaction` leaves
   * `req.transactionID` a Promise of the adapter's `beginTransaction()`, which resolves to null
   * there and is never replaced or deleted for the rest of the request; reads never begin
   * one. Such a read is the document an update merges its data into and writes back whole
   * (Payload's update operation): served from an entry the eventual window allows to be stale,
   * it would write the stale fields back over another isolate's write, a lost update in the
   * database (README, Reads inside a write). So it goes to the database.
   */
  inWrite(req: { transactionID?: TransactionIDLike } | undefined): boolean {
    const pending = req?.transactionID as unknown
    return pending !== null && typeof pending === 'object' && typeof (pending as { then?: unknown }).then === 'function'
  }

  isLive(id: TransactionID): boolean {
    const session = this.sessions()?.[id] as { inTransaction?: () => boolean } | undefined
    if (!session) return false
    // Mongo keeps sessions that are no longer in a transaction; its adapter then writes
    // without one, so such a session is not live.
    return typeof session.inTransaction === 'function' ? session.inTransaction() : true
  }

  /** The ids of every open session (raw SQL may have run in any of them). */
  liveIDs(): string[] {
    return Object.keys(this.sessions() ?? {}).filter((id) => this.isLive(id))
  }

  /** The commit or rollback of this transaction, while it is landing. */
  endingOf(id: TransactionID): Promise<void> | undefined {
    return this.ending.get(String(id))
  }

  /** Runs the commit or rollback; writes of the transaction that return meanwhile wait for it. */
  async end<T>(id: TransactionID, run: Promise<T>): Promise<T> {
    const key = String(id)
    const landed = run.then(
      () => undefined,
      () => undefined,
    )
    this.ending.set(key, landed)
    try {
      return await run
    } finally {
      if (this.ending.get(key) === landed) this.ending.delete(key)
    }
  }

  get endingCount(): number {
    return this.ending.size
  }
}
