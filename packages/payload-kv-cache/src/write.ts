import type { EngineContext } from './engine.js'
import type { StampScope } from './invalidation/stamps.js'
import type { Args } from './invalidation/strategy.js'
import type { Scope } from './keys.js'
import { toScope } from './keys.js'
import { DELETE_OPERATIONS, scopeOfCall } from './operations.js'
import type { Method } from './read.js'
import type { TransactionID } from './transactions.js'

export type TransactionOperation = 'beginTransaction' | 'commitTransaction' | 'rollbackTransaction'

/**
 * The write path (ARCHITECTURE.md, write path): which scopes a write bumps, and invalidating
 * them after the write, or after its transaction's commit has landed.
 */
export class WritePath {
  constructor(private readonly ctx: EngineContext) {}

  async write(operation: string, method: Method, args: Args): Promise<unknown> {
    const { ctx } = this
    const ref = scopeOfCall(operation, args)
    const own = ref ? toScope(ref) : undefined
    // A write whose target we cannot tell could have touched anything.
    const affected: StampScope[] = own ? this.affectedBy(own, DELETE_OPERATIONS.has(operation) && ctx.schema().hasForeignKeys()) : ['*']
    const { scopes, before, after } = ctx.strategy.writeScopes(operation, own, affected, args)
    // The strategy's look at the row before the write (list precision), in the write's own
    // transaction when it has one: `args.req` carries it.
    const transactionID = await ctx.transactions.live(args.req)
    const call = before
      ? async () => (await before(transactionID !== null), method.call(ctx.inner, args))
      : () => method.call(ctx.inner, args)
    if (transactionID === null) return this.invalidating(scopes, operation, call, after)
    // Recorded before the call: a write that throws may still be committed by the caller.
    ctx.transactions.pending.record(transactionID, scopes)
    // Its rows can show through before the commit invalidates (a write run on the plain
    // connection once the transaction ended): audits overlapping it are not comparable.
    const written = ctx.auditor?.writing(scopes)
    let result: unknown
    let threw = true
    try {
      result = await call()
      threw = false
      return result
    } finally {
      written?.()
      const more = after(result, threw)
      // Its transaction may be committing: the adapters take the session out of their
      // registry before the COMMIT runs, so what this write did becomes visible when the
      // commit lands. Invalidating before that would let a read in between fill the
      // pre-commit rows under the new stamps.
      const ending = ctx.transactions.endingOf(transactionID)
      if (ending) await ending
      else ctx.transactions.pending.record(transactionID, more)
      // The transaction ended while this write was running (an un-awaited write in a hook,
      // or one that returned during the commit): the commit already took the record.
      // Invalidate now, or nobody will.
      if (ending || !ctx.transactions.isLive(transactionID)) {
        ctx.transactions.pending.take(transactionID)
        await this.invalidating([...scopes, ...more], operation, () => undefined)
      }
    }
  }

  /** Commit invalidates what the transaction recorded once it has landed; rollback drops it. */
  async transaction(operation: TransactionOperation, method: Method, callArgs: unknown[]): Promise<unknown> {
    const { ctx } = this
    if (operation === 'beginTransaction') return method.apply(ctx.inner, callArgs)
    let id: unknown
    try {
      id = await callArgs[0]
    } catch {
      id = null
    }
    if (typeof id !== 'string' && typeof id !== 'number') return method.apply(ctx.inner, callArgs)
    const transactionID: TransactionID = id
    const scopes = ctx.transactions.pending.take(transactionID)
    const ending: Promise<unknown> =
      operation === 'rollbackTransaction' || !scopes || scopes.size === 0
        ? Promise.resolve(method.apply(ctx.inner, callArgs))
        : // Invalidate even when commit throws: drizzle can roll back silently, and a needless
          // invalidation costs a miss while a missing one serves stale data.
          this.invalidating(scopes, operation, () => method.apply(ctx.inner, callArgs))
    // Writes of this transaction that return from here on wait for it (see write()).
    return ctx.transactions.end(transactionID, ending)
  }

  /** Migrations, raw SQL, dropDatabase: anything may have changed. */
  async flush(method: Method, callArgs: unknown[], operation = 'flush'): Promise<unknown> {
    // Raw SQL can run inside an open transaction (`execute({ db: session.db })`) and only
    // becomes visible at its commit, after this bump: other isolates could refill the old
    // rows in between. The call does not say which session it used, so every open one
    // invalidates everything again when it commits.
    for (const id of this.ctx.transactions.liveIDs()) this.ctx.transactions.pending.record(id, ['*'])
    return this.invalidating(['*'], operation, () => method.apply(this.ctx.inner, callArgs))
  }

  /**
   * A method the operation table does not name (README, Limits): a newer Payload's or a custom
   * adapter's, which may write rows the wrapper cannot name. It is forwarded and counted
   * (`unknownCalls`), and taken as a flush: everything is invalidated once it returns, and
   * again when each open transaction commits. A synchronous method keeps its synchronous
   * result; its invalidation then lands in the background, and until it has, this isolate's
   * reads bypass the cache (the hold), as after any write.
   */
  unknown(method: Method, callArgs: unknown[], operation: string): unknown {
    const { ctx } = this
    ctx.counters.count('unknownCalls', '*', operation)
    let outcome: { value: unknown } | { error: unknown } | undefined
    // `flush` runs this before its first await: a synchronous outcome is known on return.
    const run = (): unknown => {
      let value: unknown
      try {
        value = method.apply(ctx.inner, callArgs)
      } catch (error) {
        outcome = { error }
        throw error
      }
      if (!isThenable(value)) outcome = { value }
      return value
    }
    const flushed = this.flush(run, [], operation)
    if (!outcome) return flushed
    ctx.background.run(() => flushed)
    if ('error' in outcome) throw outcome.error
    return outcome.value
  }

  /** For the handle: resolves once the scopes are invalidated everywhere this isolate can tell. */
  async invalidate(scopes: Iterable<StampScope>, operation = 'invalidate'): Promise<void> {
    const { strategy } = this.ctx
    const list = strategy.expandInvalidation([...scopes])
    const release = strategy.hold(list)
    this.started(list)
    try {
      this.countInvalidations(list, operation)
      await strategy.invalidate(list)
    } finally {
      release()
    }
  }

  /**
   * Deletes the entries of the scopes (and of every scope whose reads depend on them) to free
   * KV storage at once, in either strategy; with stamps, also bumps them first, so that an
   * entry the listing misses (KV's list lags) is dead anyway.
   */
  async purge(scopes: readonly StampScope[]): Promise<void> {
    const { strategy } = this.ctx
    if (strategy.kind === 'stamp') await this.invalidate(scopes, 'purge')
    const release = strategy.hold(scopes)
    try {
      await strategy.purge(scopes)
    } finally {
      release()
    }
  }

  private async invalidating<T>(
    scopes: Iterable<StampScope>,
    operation: string,
    run: () => T | Promise<T>,
    after?: (result: unknown, threw: boolean) => StampScope[],
  ): Promise<T> {
    const { strategy } = this.ctx
    let list = [...scopes]
    // Held from before the write starts until the new stamps land (or the entries are
    // deleted): reads in this isolate go to the database meanwhile, so none of them can fill
    // or serve pre-write data as fresh.
    const release = strategy.hold(list)
    this.started(list)
    let result: unknown
    let threw = true
    try {
      result = await run()
      threw = false
      return result as T
    } finally {
      if (after) {
        // Named only by the result: bumped with the rest (a new local token at once, so this
        // isolate never reads under the old one).
        const more = after(result, threw)
        this.started(more)
        list = [...list, ...more]
      }
      this.countInvalidations(list, operation)
      await strategy.invalidateAfterWrite(list, release)
    }
  }

  private started(scopes: readonly StampScope[]): void {
    this.ctx.auditor?.writeStarted(scopes)
    this.ctx.strategy.writeStarted(scopes)
  }

  /**
   * The scopes a write to `scope` must invalidate: its own, whatever this deploy caches,
   * since another deploy sharing the KV may cache it (README, Across deploys). A SQL delete
   * also changes the rows that pointed at what it deleted (foreign keys set null or cascade),
   * so their scopes go too.
   */
  private affectedBy(scope: Scope, deletes: boolean): StampScope[] {
    const out: StampScope[] = [scope]
    if (deletes) for (const referrer of this.ctx.schema().graph.referrersOf(scope)) if (referrer !== scope) out.push(referrer)
    return out
  }

  private countInvalidations(scopes: readonly StampScope[], operation: string): void {
    const { counters, events } = this.ctx
    for (const scope of scopes) {
      // Document and bulk stamps refine their collection's invalidation: not counted again.
      if (scope.includes('#')) continue
      counters.count('invalidations', scope, operation)
      if (events.enabled) events.emit({ type: 'invalidation', scope, operation, ms: 0 })
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function'
  )
}
