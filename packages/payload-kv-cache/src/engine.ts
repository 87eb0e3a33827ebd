import { Auditor } from './audit.js'
import { BackgroundWork } from './background.js'
import { countingRequest } from './context.js'
import type { ConfigLike } from './dependencies.js'
import { EventSink } from './events.js'
import { PrefixStrategy } from './invalidation/prefix-strategy.js'
import { Purger } from './invalidation/purge.js'
import { StrongStamps } from './invalidation/strong-stamps.js'
import { StampStrategy } from './invalidation/stamp-strategy.js'
import type { StampScope } from './invalidation/stamps.js'
import { burstReachMs, Stamps } from './invalidation/stamps.js'
import type { Args, InvalidationStrategy } from './invalidation/strategy.js'
import type { ReadOperation } from './operations.js'
import type { ResolvedOptions } from './options.js'
import type { Method } from './read.js'
import { ReadPath } from './read.js'
import type { InnerAdapter } from './schema.js'
import { Schema } from './schema.js'
import type { CacheStats } from './stats.js'
import { Counters } from './stats.js'
import { SafeKV } from './store.js'
import { TransactionTracker } from './transactions.js'
import type { TransactionOperation } from './write.js'
import { WritePath } from './write.js'

export type { Args } from './invalidation/strategy.js'
export type { InnerAdapter } from './schema.js'

export interface Logger {
  debug?: (message: string) => void
  warn?: (message: string) => void
}

/** What the read path, the write path and the strategies share, for one adapter instance. */
export interface EngineContext {
  readonly options: ResolvedOptions
  readonly inner: InnerAdapter
  readonly clock: () => number
  readonly counters: Counters
  readonly events: EventSink
  readonly kv: SafeKV
  readonly background: BackgroundWork
  /** Undefined unless audit mode is on: a read then pays nothing for it. */
  readonly auditor: Auditor | undefined
  readonly strategy: InvalidationStrategy
  readonly transactions: TransactionTracker
  schema(): Schema
  report(kind: string, message: string): void
}

const REPORT_INTERVAL_MS = 10_000

/**
 * One adapter instance's cache (ARCHITECTURE.md): builds the parts and routes the wrapper's
 * calls to the read path, the write path and the strategy.
 */
export class CacheEngine implements EngineContext {
  readonly counters = new Counters()
  /** The totals, which SafeKV and the purger count into directly. */
  readonly stats: CacheStats = this.counters.totals
  readonly clock: () => number
  readonly background: BackgroundWork
  readonly events: EventSink
  readonly auditor: Auditor | undefined
  readonly kv: SafeKV
  readonly strategy: InvalidationStrategy
  readonly transactions: TransactionTracker
  private readonly reads: ReadPath
  private readonly writes: WritePath
  private current: Schema
  private readonly lastReported = new Map<string, number>()

  constructor(
    readonly options: ResolvedOptions,
    readonly inner: InnerAdapter,
    config: ConfigLike,
    private readonly logger: Logger | undefined,
  ) {
    const report = (kind: string, message: string) => this.report(kind, message)
    this.clock = options.clock
    this.background = new BackgroundWork(options.waitUntil)
    this.events = new EventSink(options.debug, options.onEvent, logger, report)
    this.auditor = options.audit
      ? new Auditor(options.audit.sampleRate, options.audit.random, this.counters, this.background, this.events, report)
      : undefined
    this.kv = new SafeKV(options.kv, options.kvTimeoutMs, this.stats, (error, what) =>
      this.report(`kv-${what}`, `KV ${what} failed, using the database instead: ${error instanceof Error ? error.message : String(error)}`),
    )
    this.current = new Schema(options, config, inner)
    this.transactions = new TransactionTracker(this.clock, () => inner.sessions)
    const purger = new Purger(
      this.kv,
      options.purgeBudget,
      this.stats,
      this.background,
      Purger.continuationBudgetFor(options.purgeBudget, options.waitUntil !== undefined),
    )
    const schema = () => this.current
    this.strategy =
      options.invalidation === 'prefix'
        ? new PrefixStrategy(
            purger,
            schema,
            options.prefix,
            this.clock,
            this.background,
            (message) => this.report('purge', message),
            (scopes) => this.invalidate(scopes, 'purgeRetry'),
          )
        : new StampStrategy({
            stamps: new Stamps({
              kv: this.kv,
              prefix: options.prefix,
              clock: this.clock,
              sleep: options.sleep,
              counters: this.counters,
              background: this.background,
              report: (message) => this.report('stamp', message),
              writerGraceMs: options.kvTimeoutMs + 5000,
              burstMarginMs: burstReachMs(options.kvTimeoutMs),
              events: this.events,
            }),
            purger,
            schema,
            kv: this.kv,
            counters: this.counters,
            clock: this.clock,
            prefix: options.prefix,
            countMatches: (collection, args) => countMatches(inner, collection, args),
            documentStamps: options.documentStamps,
            // A custom `key` may give calls with different dependencies one entry: then only
            // the collection-wide ones (the same for every list) keep them sharing it.
            listPrecision: options.listPrecision && !options.key,
            strongStamps:
              options.strongStamps &&
              new StrongStamps(options.strongStamps, options.prefix, options.kvTimeoutMs, this.counters, options.sleep, (message) =>
                this.report('strong', message),
              ),
          })
    this.reads = new ReadPath(this)
    this.writes = new WritePath(this)
  }

  schema(): Schema {
    return this.current
  }

  /**
   * Rebuilds what depends on the config. Called again when Payload hot-reloads a changed
   * config (it then calls the instance's `init`): new fields and relationships change the
   * dependencies, and the fingerprint moves every key away from entries in the old shape.
   */
  configure(config: ConfigLike): void {
    this.current = new Schema(this.options, config, this.inner)
    this.strategy.configure()
  }

  /** Counted against the request's KV operations (context.ts), the background work it starts too. */
  read(operation: ReadOperation, method: Method, args: Args): Promise<unknown> {
    return countingRequest(args.req, () => this.reads.read(operation, method, args))
  }

  write(operation: string, method: Method, args: Args): Promise<unknown> {
    return countingRequest(args.req, () => this.writes.write(operation, method, args))
  }

  transaction(operation: TransactionOperation, method: Method, callArgs: unknown[]): Promise<unknown> {
    return this.writes.transaction(operation, method, callArgs)
  }

  flush(method: Method, callArgs: unknown[], operation = 'flush'): Promise<unknown> {
    return this.writes.flush(method, callArgs, operation)
  }

  /** A method the operation table does not name: forwarded, then everything is invalidated. */
  unknown(method: Method, callArgs: unknown[], operation: string): unknown {
    return this.writes.unknown(method, callArgs, operation)
  }

  /** For the handle: resolves once the scopes are invalidated everywhere this isolate can tell. */
  invalidate(scopes: Iterable<StampScope>, operation = 'invalidate'): Promise<void> {
    return this.writes.invalidate(scopes, operation)
  }

  purge(scopes: readonly StampScope[]): Promise<void> {
    return this.writes.purge(scopes)
  }

  /**
   * What this isolate holds in memory, map by map. Every one is bounded or drains when work
   * settles (ARCHITECTURE.md, Invariants); the reliability tests read it after hundreds of
   * concurrent calls.
   */
  footprint(): Record<string, number> {
    return {
      ...this.strategy.footprint(),
      flights: this.reads.flightCount,
      background: this.background.size,
      pendingTransactions: this.transactions.pending.size,
      endingTransactions: this.transactions.endingCount,
      reportKinds: this.lastReported.size,
    }
  }

  /** Logs a problem at most once per interval per kind: a KV outage must not flood the logs. */
  report(kind: string, message: string): void {
    const now = this.clock()
    const last = this.lastReported.get(kind)
    if (last !== undefined && now - last < REPORT_INTERVAL_MS) return
    this.lastReported.set(kind, now)
    this.logger?.warn?.(`payload-kv-cache: ${message}`)
  }
}

/**
 * How many documents match a `find`'s `where`, from the wrapped adapter (lists.ts, complete
 * answers). Never with the call's `req`: the count runs after the call, in the background,
 * and a `req` may by then be inside a transaction whose rows no other request can see yet.
 */
async function countMatches(inner: InnerAdapter, collection: string, args: Record<string, unknown>): Promise<number | undefined> {
  const count = inner.count
  if (typeof count !== 'function') return undefined
  const answer: unknown = await count.call(inner, { collection, where: args.where, locale: args.locale })
  const totalDocs = (answer as { totalDocs?: unknown } | null)?.totalDocs
  return typeof totalDocs === 'number' ? totalDocs : undefined
}
