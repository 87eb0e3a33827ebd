import type { BackgroundWork } from '../background.js'
import { KV_LIMITS } from '../kv.js'
import type { CacheStats } from '../stats.js'
import type { SafeKV } from '../store.js'

/** Deletes in flight at once: enough to keep KV busy without a burst of thousands. */
const DELETE_CONCURRENCY = 50
/** Kept back from a continuation for the request's own reads and fills. */
const RESERVED_OPERATIONS = 100

/**
 * The literal list-and-delete (ARCHITECTURE.md, Invalidation strategies): every key under some prefixes is listed,
 * page by page, and deleted. One KV operation per entry, so a call stops after `budget`
 * operations (Workers allow 1,000 per invocation) and continues the rest in the background
 * (through `waitUntil` when given). `done` resolves when everything is deleted or failed,
 * with false when anything is left.
 */
export class Purger {
  constructor(
    private readonly kv: SafeKV,
    private readonly budget: number,
    private readonly stats: CacheStats,
    private readonly background: BackgroundWork,
    /**
     * On Workers the continuation runs in the same invocation (through `waitUntil`) and
     * shares its 1,000 operations; past its share it stops, and the scope is purged again by
     * a later request. Elsewhere nothing caps it.
     */
    private readonly continuationBudget: number = Infinity,
  ) {}

  /** The continuation's share of one Workers invocation, when the work runs in `waitUntil`. */
  static continuationBudgetFor(budget: number, onWorkers: boolean): number {
    return onWorkers ? Math.max(0, KV_LIMITS.operationsPerInvocation - RESERVED_OPERATIONS - budget) : Infinity
  }

  /** Resolves after the budgeted part; `done` after the rest, with whether nothing failed. */
  async purge(prefixes: readonly string[]): Promise<{ done: Promise<boolean> }> {
    const queue = [...new Set(prefixes)].map((prefix) => ({
      prefix,
      cursor: undefined as string | undefined,
      listed: false,
      complete: false,
    }))
    // Names listed but not deleted yet: a budget can run out in the middle of a page.
    let names: string[] = []
    let spent = 0
    let failed = false
    const run = async (limit: number): Promise<boolean> => {
      for (;;) {
        while (names.length > 0) {
          if (spent >= limit) return false
          const batch = names.slice(0, Math.min(DELETE_CONCURRENCY, limit - spent))
          names = names.slice(batch.length)
          const results = await Promise.all(batch.map((name) => this.kv.delete(name)))
          spent += batch.length
          for (const ok of results) {
            if (ok) this.stats.entriesDeleted++
            else {
              this.stats.purgeErrors++
              failed = true
            }
          }
        }
        const head = queue[0]
        if (!head) return true
        if (head.complete) {
          queue.shift()
          continue
        }
        if (spent >= limit) return false
        const page = await this.kv.list(head.prefix, head.cursor)
        spent++
        if (!page) {
          // Listing failed: what is left under this prefix stays until its TTL.
          this.stats.purgeErrors++
          failed = true
          queue.shift()
          continue
        }
        names = page.keys.map((key) => key.name)
        // A page can be empty and still not be the last one.
        if (page.list_complete || !page.cursor) head.complete = true
        else head.cursor = page.cursor
      }
    }
    const finished = await run(this.budget)
    if (finished) return { done: Promise.resolve(!failed) }
    this.stats.purgesDeferred++
    const done = run(this.budget + this.continuationBudget).then((complete) => complete && !failed)
    this.background.run(() => done)
    return { done }
  }
}
