import type { BackgroundWork } from '../background.js'
import { keepAlive } from '../keepalive.js'
import type { Scope } from '../keys.js'
import type { ReadOperation } from '../operations.js'
import { RefCounts } from '../refcounts.js'
import type { Schema } from '../schema.js'
import type { Purger } from './purge.js'
import type { StampScope } from './stamps.js'
import type { Args, FillDecision, InvalidationStrategy, Judgement, ReadTicket, WriteScopes } from './strategy.js'

/** A failed purge of a scope is tried again by a read that needs it, at most this often. */
const PURGE_RETRY_INTERVAL_MS = 1000

/**
 * The literal list-and-delete: a write deletes every entry under the affected scopes' key
 * prefixes (purge.ts). It keeps what this isolate can know about its own writes, because it
 * cannot stop another isolate's racing fill (README, Invalidation strategies): writes started
 * per scope (a miss whose database read overlapped one does not fill) and when each started
 * (KV's `list` can miss keys put in the last minute, so a purge may leave an entry filled
 * just before the write: entries filled before it are not served here).
 */
export class PrefixStrategy implements InvalidationStrategy {
  readonly kind = 'prefix'
  readonly strong = false
  private readonly holds = new RefCounts<StampScope>()
  /** Writes started per scope in this isolate. */
  private readonly writeEpochs = new Map<StampScope, number>()
  /** When this isolate last started a write to each scope (bounded by the config's scopes). */
  private readonly writeStartedAt = new Map<StampScope, number>()
  private readonly fillsInFlight = new Set<Promise<void>>()
  /** Scopes whose last purge failed, with the time of the last attempt. */
  private readonly purgeFailed = new Map<StampScope, number>()

  constructor(
    private readonly purger: Purger,
    private readonly schema: () => Schema,
    private readonly prefix: string,
    private readonly clock: () => number,
    private readonly background: BackgroundWork,
    private readonly report: (message: string) => void,
    /** Invalidates again, counted as `purgeRetry`, when a read finds a failed purge due. */
    private readonly retry: (scopes: StampScope[]) => Promise<void>,
  ) {}

  dependencies(operation: ReadOperation, _ref: unknown, scope: Scope, args: Args): Scope[] {
    return this.schema().paths.dependenciesOfCall(operation, scope, args)
  }

  /** A write to a dependency is in flight here, or a purge of one has not succeeded. */
  unsettled(dependencies: readonly Scope[]): boolean {
    return this.held(dependencies) || this.purgeFailedFor(dependencies)
  }

  beginRead(_operation: ReadOperation, _scope: Scope, dependencies: readonly Scope[]): ReadTicket {
    return { dependencies, keys: [], epoch: this.epochOf(dependencies) }
  }

  judge(): Judgement {
    return { signature: '' }
  }

  /**
   * Not an entry whose read began before this isolate's last write to a dependency began: it
   * may hold what the write replaced, filled here or, racing the purge, by another isolate
   * (an entry's time is when its read began, read.ts). Times from another isolate's clock:
   * one running ahead of ours by more than the read took is a limit (README, Limits); a margin
   * for it here would cost this isolate every hit for that long after each of its writes.
   */
  serves(entry: { stamps: string; filledAt: number }, signature: string, ticket: ReadTicket): boolean {
    return entry.stamps === signature && entry.filledAt > this.lastWriteStartOf(ticket.dependencies)
  }

  /** Not when a write to a dependency started while the database was read. */
  fill(ticket: ReadTicket, signature: string): FillDecision {
    return this.epochOf(ticket.dependencies) === ticket.epoch && !this.held(ticket.dependencies) ? { signature } : { skip: 'race' }
  }

  private held(dependencies: readonly Scope[]): boolean {
    return this.holds.size > 0 && (this.holds.has('*') || dependencies.some((scope) => this.holds.has(scope)))
  }

  youngestWrite(): number {
    return -Infinity
  }

  /** A purge must not list before a fill it could miss has landed. */
  trackFill(fill: Promise<void>): void {
    this.fillsInFlight.add(fill)
    // The fill's own failures are the read path's; this only tracks it.
    fill.finally(() => this.fillsInFlight.delete(fill)).catch(() => undefined)
  }

  writeScopes(_operation: string, _own: Scope | undefined, affected: StampScope[]): WriteScopes {
    return { scopes: affected, after: () => [] }
  }

  expandInvalidation(scopes: StampScope[]): StampScope[] {
    return scopes
  }

  hold(scopes: Iterable<StampScope>): () => void {
    return this.holds.hold(scopes)
  }

  writeStarted(scopes: readonly StampScope[]): void {
    const now = this.clock()
    for (const scope of scopes) {
      this.writeEpochs.set(scope, (this.writeEpochs.get(scope) ?? 0) + 1)
      this.writeStartedAt.set(scope, now)
    }
  }

  /** Past the budget the rest is deleted in the background; reads here bypass until then. */
  async invalidateAfterWrite(scopes: readonly StampScope[], release: () => void): Promise<void> {
    let done: Promise<boolean>
    try {
      ;({ done } = await this.purgeAfterFills(scopes))
    } catch (error) {
      release()
      throw error
    }
    void done.then((ok) => this.purgeSettled(scopes, ok)).finally(release)
  }

  async invalidate(scopes: readonly StampScope[]): Promise<void> {
    this.purgeSettled(scopes, await (await this.purgeAfterFills(scopes)).done)
  }

  purge(scopes: readonly StampScope[]): Promise<void> {
    return this.invalidate(scopes)
  }

  footprint(): Record<string, number> {
    return {
      stampsInFlight: this.holds.size,
      writeEpochs: this.writeEpochs.size,
      writeStarts: this.writeStartedAt.size,
      fillsInFlight: this.fillsInFlight.size,
      purgeFailed: this.purgeFailed.size,
    }
  }

  configure(): void {}

  /** Lets fills already under way land, then deletes under the prefixes. */
  private async purgeAfterFills(scopes: readonly StampScope[]): Promise<{ done: Promise<boolean> }> {
    // Fills other requests started: wait for them with a timer of this request's own.
    if (this.fillsInFlight.size > 0) await keepAlive(Promise.all(this.fillsInFlight))
    return this.purger.purge(this.schema().prefixesFor(this.prefix, scopes))
  }

  /**
   * A purge that could not list or delete everything leaves entries that may be stale. This
   * isolate bypasses those scopes until a purge of them succeeds, retried when a read needs
   * them, at most once a second.
   */
  private purgeSettled(scopes: readonly StampScope[], ok: boolean): void {
    const now = this.clock()
    for (const scope of scopes) {
      if (ok) this.purgeFailed.delete(scope)
      else this.purgeFailed.set(scope, now)
    }
    if (!ok)
      this.report(
        `could not delete every entry of ${scopes.join(', ')}; this isolate reads them from the database until a purge succeeds, other isolates may serve stale entries until their TTL`,
      )
  }

  private purgeFailedFor(dependencies: readonly Scope[]): boolean {
    if (this.purgeFailed.size === 0) return false
    const failed: StampScope[] = dependencies.filter((scope) => this.purgeFailed.has(scope))
    if (this.purgeFailed.has('*')) failed.push('*')
    if (failed.length === 0) return false
    const now = this.clock()
    const due = failed.filter((scope) => now - (this.purgeFailed.get(scope) ?? now) >= PURGE_RETRY_INTERVAL_MS)
    if (due.length > 0) {
      for (const scope of due) this.purgeFailed.set(scope, now)
      this.background.run(() => this.retry(due))
    }
    return true
  }

  private lastWriteStartOf(dependencies: readonly Scope[]): number {
    if (this.writeStartedAt.size === 0) return -Infinity
    let last = this.writeStartedAt.get('*') ?? -Infinity
    for (const scope of dependencies) last = Math.max(last, this.writeStartedAt.get(scope) ?? -Infinity)
    return last
  }

  private epochOf(dependencies: readonly Scope[]): number {
    if (this.writeEpochs.size === 0) return 0
    let sum = this.writeEpochs.get('*') ?? 0
    for (const scope of dependencies) sum += this.writeEpochs.get(scope) ?? 0
    return sum
  }
}
