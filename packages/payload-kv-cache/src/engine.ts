import { Auditor } from './audit.js'
import { BackgroundWork } from './background.js'
import { UncacheableArgumentError } from './canonical.js'
import { decodeEnvelope, encodeEnvelope } from './codec.js'
import { controlFor } from './context.js'
import type { ConfigLike } from './dependencies.js'
import { DependencyGraph } from './dependencies.js'
import { ReadPaths } from './paths.js'
import type { Scope } from './keys.js'
import { argumentsDigest, byteLength, digest, entryKey, KV_MAX_KEY_BYTES } from './keys.js'
import { KV_LIMITS } from './kv.js'
import type { ReadOperation, ScopeRef } from './operations.js'
import { scopeOfCall } from './operations.js'
import type { CacheControl, ResolvedOptions } from './options.js'
import { CachePolicy } from './policy.js'
import type { StampScope } from './stamps.js'
import { Stamps } from './stamps.js'
import { Purger } from './purge.js'
import type { BypassReason, CacheStats, FillSkipReason } from './stats.js'
import { BYPASS_COUNTERS, Counters, FILL_SKIP_COUNTERS } from './stats.js'
import type { ReadEvent } from './events.js'
import { elapsedSince, EventSink, shortKey, timerStart } from './events.js'
import type { KVFailure } from './store.js'
import { SafeKV } from './store.js'
import type { TransactionID } from './transactions.js'
import { PendingTransactions } from './transactions.js'
import { schemaFingerprint } from './fingerprint.js'
import { keepAlive } from './keepalive.js'
import type { DocumentID, IDKind } from './documents.js'
import { bulkStamp, canonicalID, customIDKinds, documentStamp, idOfWriteArgs, idOfWriteResult, pinnedID, SINGLE_DOCUMENT_WRITES, VERSION_WRITES } from './documents.js'

/** What the engine needs of the inner adapter instance. */
export interface InnerAdapter {
  name?: string
  sessions?: Record<string | number, unknown>
  [method: string]: unknown
}

export interface Logger {
  debug?: (message: string) => void
  warn?: (message: string) => void
}

/** The read outcomes counted once the database has answered. */
type MissOutcome = 'misses' | 'stale' | 'malformed'

export type Args = Record<string, unknown> & { req?: { transactionID?: unknown; context?: unknown } }
type Method = (this: InnerAdapter, ...args: unknown[]) => unknown

const REPORT_INTERVAL_MS = 10_000
const DELETES = new Set(['deleteOne', 'deleteMany', 'deleteVersions'])
/** Payload's default `readReplicasAfterWriteInterval`: how long a replica may lag a write. */
const DEFAULT_REPLICA_WINDOW_MS = 2000
/** Misses coalesced at once per isolate; past it, misses simply go to the database. */
const MAX_FLIGHTS = 1000

/** The read and write paths of ARCHITECTURE.md, for one adapter instance. */
export class CacheEngine {
  readonly counters = new Counters()
  /** The totals, which SafeKV and the purger count into directly. */
  readonly stats: CacheStats = this.counters.totals
  readonly background: BackgroundWork
  private readonly events: EventSink
  /** Undefined unless audit mode is on: a read then pays nothing for it. */
  private readonly auditor: Auditor | undefined
  private readonly kv: SafeKV
  private readonly stamps: Stamps
  private readonly transactions: PendingTransactions
  private readonly purger: Purger
  /**
   * Prefix strategy: writes started per scope in this isolate. A miss whose database read
   * overlapped one does not fill (the race the strategy cannot stop across isolates).
   */
  private readonly writeEpochs = new Map<StampScope, number>()
  /** Transactions whose commit or rollback is running, until it has landed. */
  private readonly endingTransactions = new Map<string, Promise<void>>()
  /**
   * Prefix strategy: when this isolate last started a write to each scope. KV's `list` can
   * miss keys written in the last minute, so a purge may leave an entry filled just before
   * the write; entries filled before it are not served here (bounded by the config's scopes).
   */
  private readonly writeStartedAt = new Map<StampScope, number>()
  private readonly fillsInFlight = new Set<Promise<void>>()
  /** Misses on their way to the database, by key and signature: each resolves to the entry. */
  private readonly flights = new Map<string, Promise<string | undefined>>()
  /** Prefix strategy: scopes whose last purge failed, with the time of the last attempt. */
  private readonly purgeFailed = new Map<StampScope, number>()
  private graph!: DependencyGraph
  private paths!: ReadPaths
  private customIDs!: Map<string, IDKind>
  private policy!: CachePolicy
  private readonly lastReported = new Map<string, number>()
  private readonly clock: () => number
  /** Adapter name plus the schema fingerprint: both are part of every key. */
  private keyNamespace!: string

  constructor(
    private readonly options: ResolvedOptions,
    private readonly inner: InnerAdapter,
    config: ConfigLike,
    private readonly logger: Logger | undefined,
  ) {
    this.clock = options.clock
    this.background = new BackgroundWork(options.waitUntil)
    this.events = new EventSink(options.debug, options.onEvent, logger, (kind, message) => this.report(kind, message))
    this.auditor = options.audit
      ? new Auditor(options.audit.sampleRate, options.audit.random, this.counters, this.background, this.events, (kind, message) => this.report(kind, message))
      : undefined
    this.kv = new SafeKV(options.kv, options.kvTimeoutMs, this.stats, (error, what) =>
      this.report(`kv-${what}`, `KV ${what} failed, using the database instead: ${error instanceof Error ? error.message : String(error)}`),
    )
    this.stamps = new Stamps({
      kv: this.kv,
      prefix: options.prefix,
      clock: this.clock,
      sleep: options.sleep,
      counters: this.counters,
      background: this.background,
      report: (message) => this.report('stamp', message),
      writerGraceMs: options.kvTimeoutMs + 5000,
      burstMarginMs: options.kvTimeoutMs + 1000,
      events: this.events,
    })
    this.transactions = new PendingTransactions(this.clock)
    this.purger = new Purger(this.kv, options.purgeBudget, this.stats, this.background, Purger.continuationBudgetFor(options.purgeBudget, options.waitUntil !== undefined))
    this.configure(config)
  }

  /**
   * Builds what depends on the config. Called again when Payload hot-reloads a changed
   * config (it then calls the instance's `init`): new fields and relationships change the
   * dependencies, and the fingerprint moves every key away from entries in the old shape.
   */
  configure(config: ConfigLike): void {
    const policy = new CachePolicy(this.options, config)
    this.graph = new DependencyGraph(config)
    this.paths = new ReadPaths(config)
    this.customIDs = customIDKinds(config)
    this.policy = policy
    this.keyNamespace = `${this.inner.name ?? 'unknown'}:${schemaFingerprint(config)}`
    this.stamps.forgetDependencies()
  }

  async read(operation: ReadOperation, method: Method, args: Args): Promise<unknown> {
    const call = () => method.call(this.inner, args)
    const ref = scopeOfCall(operation, args)
    if (!ref) return call()
    const scope = toScope(ref)
    // Timings are taken only when someone listens: the hot path stays as it was.
    const started = this.events.enabled ? timerStart() : 0
    const control = controlFor(args.req)
    let ttl = this.policy.ttlFor(scope, operation)
    if (ttl === null) return this.bypass(call, 'excluded', scope, operation, started)
    if (control?.bypass) return this.bypass(call, 'requested', scope, operation, started)
    if (await this.liveTransaction(args.req)) return this.bypass(call, 'transaction', scope, operation, started)
    const dependencies = this.readDependencies(operation, ref, scope, args)
    if (this.stamps.isUnsettled(dependencies) || this.purgeFailedFor(dependencies)) return this.bypass(call, 'pending', scope, operation, started)
    const key = this.keyFor(operation, ref, scope, args)
    if (key === undefined) return this.bypass(call, 'unkeyable', scope, operation, started)

    const prefixMode = this.options.invalidation === 'prefix'
    const stampKeys = prefixMode ? [] : this.stamps.keysFor(dependencies)
    const epoch = prefixMode ? this.epochOf(dependencies) : 0
    // Before the fetch: a write in this isolate from here on makes an audit of this hit moot.
    const auditEpoch = this.auditor ? this.auditor.epochOf(dependencies) : 0
    const values = await this.kv.getEntries([key, ...stampKeys])
    if (typeof values === 'string') {
      this.kvFailed(values, 'get', scope, operation, key, started)
      return call()
    }
    if (this.stamps.contradictsRecentWrites(stampKeys, values)) return this.bypass(call, 'pending', scope, operation, started)
    if (this.stamps.burstOpen(stampKeys, values)) return this.bypass(call, 'burst', scope, operation, started)
    // Read before the database call: a fill that races a write lands under the old stamp.
    const signature = this.stamps.signature(stampKeys, values)
    const raw = values.get(key)
    let outcome: MissOutcome = 'misses'
    if (raw != null && !control?.refresh) {
      const entry = decodeEnvelope(raw)
      if (entry.status === 'foreign') outcome = 'malformed'
      else if (entry.stamps !== signature || this.clock() >= entry.expiresAt || (prefixMode && entry.filledAt <= this.lastWriteStartOf(dependencies))) outcome = 'stale'
      else {
        try {
          const result = entry.read()
          this.counters.count('hits', scope, operation)
          if (this.events.enabled) this.emitRead('hit', scope, operation, key, started)
          if (this.auditor?.sample()) {
            this.auditor.schedule({ scope, operation, key, dependencies, epoch: auditEpoch, args, call: (copy) => method.call(this.inner, copy), served: entry.read })
          }
          return result
        } catch {
          outcome = 'malformed'
        }
      }
    }
    this.counters.count(outcome, scope, operation)

    // Single-flight: an identical miss under the same stamps already went to the database.
    const flightKey = `${key}\n${signature}`
    const coalesce = this.options.coalesceWaitMs > 0 && !control?.refresh
    const joined = coalesce ? this.flights.get(flightKey) : undefined
    if (joined) {
      const shared = await this.awaitFlight(joined)
      if (shared !== undefined) {
        this.counters.count('coalesced', scope, operation)
        if (this.events.enabled) this.emitRead('coalesced', scope, operation, key, started)
        return shared
      }
      // The first caller failed, took too long, or had a result that cannot be copied.
    }
    let settle: ((text: string | undefined) => void) | undefined
    if (coalesce && !joined && this.flights.size < MAX_FLIGHTS) {
      this.flights.set(flightKey, new Promise((resolve) => (settle = resolve)))
    }
    let result: unknown
    try {
      result = await call()
    } catch (error) {
      if (settle) {
        this.flights.delete(flightKey)
        settle(undefined)
      }
      throw error
    }
    if (this.events.enabled) this.emitRead(outcome === 'misses' ? 'miss' : outcome, scope, operation, key, started)
    ttl = controlTtl(control) ?? ttl
    // Encoded now, before Payload's hooks mutate the result we hand back.
    const now = this.clock()
    const text = this.encode(signature, now, ttl, result, scope, operation, key)
    // Callers arriving until the entry is in KV still share this result.
    settle?.(text)
    const endFlight = () => {
      if (settle) this.flights.delete(flightKey)
    }
    if (text === undefined) {
      endFlight()
      return result
    }
    if (prefixMode && (this.epochOf(dependencies) !== epoch || this.stamps.isUnsettled(dependencies))) {
      this.fillSkipped('race', scope, operation, key)
      endFlight()
      return result
    }
    // With read replicas, a read soon after a write may have come from a replica that has not
    // caught up; filled under the new stamp, its old row would outlive replication.
    const replicaWindow = this.replicaWindowMs()
    if (replicaWindow > 0 && this.clock() - this.stamps.youngestWrite(stampKeys, values) < replicaWindow) {
      this.fillSkipped('replica', scope, operation, key)
      endFlight()
      return result
    }
    this.store(key, text, ttl, scope, operation, endFlight)
    return result
  }

  /** The first caller's result, as a copy of its own; undefined if it does not come in time. */
  private async awaitFlight(flight: Promise<string | undefined>): Promise<unknown> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.options.coalesceWaitMs)
    })
    try {
      const text = await Promise.race([flight, late])
      if (text === undefined) return undefined
      const entry = decodeEnvelope(text)
      return entry.status === 'ok' ? entry.read() : undefined
    } catch {
      return undefined
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * Drizzle adapters with `readReplicas` keep the primary in `primaryDrizzle` and send reads
   * to the primary for `readReplicasAfterWriteInterval` after a write in the same isolate:
   * Payload's own estimate of replication lag, which we take for every isolate. D1 with
   * `readReplicas: 'first-primary'` reads through a Sessions API session that is consistent
   * only with itself, so another isolate's write may not have reached the replica it reads;
   * D1 publishes no bound on that lag, and we take Payload's Postgres default for it.
   */
  private replicaWindowMs(): number {
    const inner = this.inner as { primaryDrizzle?: unknown; readReplicasAfterWriteInterval?: unknown; readReplicas?: unknown }
    if (inner.readReplicas === 'first-primary') return DEFAULT_REPLICA_WINDOW_MS
    if (!inner.primaryDrizzle) return 0
    const interval = inner.readReplicasAfterWriteInterval
    return typeof interval === 'number' && interval > 0 ? interval : DEFAULT_REPLICA_WINDOW_MS
  }

  async write(operation: string, method: Method, args: Args): Promise<unknown> {
    const ref = scopeOfCall(operation, args)
    // A write whose target we cannot tell could have touched anything.
    const affected: StampScope[] = ref ? this.affectedBy(toScope(ref), DELETES.has(operation) && this.hasForeignKeys()) : ['*']
    if (affected.length === 0) return method.call(this.inner, args)
    const { scopes, after } = this.documentStamps(operation, ref ? toScope(ref) : undefined, affected, args)
    const transactionID = await this.liveTransaction(args.req)
    if (transactionID !== null) {
      // Recorded before the call: a write that throws may still be committed by the caller.
      this.transactions.record(transactionID, scopes)
      // Its rows can show through before the commit invalidates (a write run on the plain
      // connection once the transaction ended): audits overlapping it are not comparable.
      const written = this.auditor?.writing(scopes)
      let result: unknown
      let threw = true
      try {
        result = await method.call(this.inner, args)
        threw = false
        return result
      } finally {
        written?.()
        const more = after(result, threw)
        // Its transaction may be committing: the adapters take the session out of their
        // registry before the COMMIT runs, so what this write did becomes visible when the
        // commit lands. Invalidating before that would let a read in between fill the
        // pre-commit rows under the new stamps.
        const ending = this.endingTransactions.get(String(transactionID))
        if (ending) await ending
        else this.transactions.record(transactionID, more)
        // The transaction ended while this write was running (an un-awaited write in a hook,
        // or one that returned during the commit): the commit already took the record.
        // Invalidate now, or nobody will.
        if (ending || !this.sessionIsLive(transactionID)) {
          this.transactions.take(transactionID)
          await this.invalidating([...scopes, ...more], operation, () => undefined)
        }
      }
    }
    return this.invalidating(scopes, operation, () => method.call(this.inner, args), after)
  }

  /**
   * The stamps a read depends on. A `findOne` pinned to one id that follows no relationship
   * or join reads one row: it depends on that document's stamp and the collection's bulk
   * stamp, not on every write to the collection (see documents.ts).
   */
  private readDependencies(operation: ReadOperation, ref: ScopeRef, scope: Scope, args: Args): Scope[] {
    if (operation !== 'findOne' || ref.kind !== 'collection' || !this.documentLevel()) return this.paths.dependenciesOfCall(operation, scope, args)
    const { scopes, ownRowsOnly } = this.paths.traversal(operation, scope, args)
    const id = ownRowsOnly ? this.canonicalID(scope, pinnedID(args.where)) : undefined
    return id === undefined ? scopes : [bulkStamp(scope), documentStamp(scope, id)]
  }

  private canonicalID(scope: Scope, id: DocumentID | undefined): DocumentID | undefined {
    const slug = scope.slice(2)
    const kind = this.customIDs.get(slug) ?? ((this.inner as { defaultIDType?: unknown }).defaultIDType === 'number' ? 'number' : 'generated')
    return canonicalID(id, kind)
  }

  private documentLevel(): boolean {
    return this.options.invalidation === 'stamp' && this.options.documentStamps
  }

  /**
   * The document and bulk stamps a write bumps besides its collection stamps: before the
   * call, those it can name from its arguments; `after` adds what only its result names (a
   * created document's id), or the bulk stamp when neither says which row it wrote.
   */
  private documentStamps(
    operation: string,
    own: Scope | undefined,
    affected: StampScope[],
    args: Args,
  ): { scopes: StampScope[]; after: (result: unknown, threw: boolean) => StampScope[] } {
    const none = () => []
    if (!this.documentLevel()) return { scopes: affected, after: none }
    const scopes = [...affected]
    let after: (result: unknown, threw: boolean) => StampScope[] = none
    for (const scope of affected) {
      if (scope === '*' || !scope.startsWith('c:')) continue
      if (scope !== own) {
        // A referrer whose foreign keys a delete changed: which of its rows, nobody says.
        scopes.push(bulkStamp(scope))
        continue
      }
      if (VERSION_WRITES.has(operation)) continue
      // A delete in a collection that points at itself (a parent page, related posts): its
      // foreign keys change other rows of the same collection, which nobody names.
      if (!SINGLE_DOCUMENT_WRITES.has(operation) || (DELETES.has(operation) && this.hasForeignKeys() && this.graph.referrersOf(scope).has(scope))) {
        scopes.push(bulkStamp(scope))
        continue
      }
      const named = this.canonicalID(scope, idOfWriteArgs(operation, args))
      if (named !== undefined) scopes.push(documentStamp(scope, named))
      after = (result, threw) => {
        const returned = threw ? undefined : this.canonicalID(scope, idOfWriteResult(result))
        if (returned !== undefined) return named !== undefined && String(returned) === String(named) ? [] : [documentStamp(scope, returned)]
        // A create that failed, or a write that returned no id: any row may have changed.
        return named === undefined ? [bulkStamp(scope)] : []
      }
    }
    return { scopes, after }
  }

  async transaction(operation: 'beginTransaction' | 'commitTransaction' | 'rollbackTransaction', method: Method, callArgs: unknown[]): Promise<unknown> {
    if (operation === 'beginTransaction') return method.apply(this.inner, callArgs)
    let id: unknown
    try {
      id = await callArgs[0]
    } catch {
      id = null
    }
    if (typeof id !== 'string' && typeof id !== 'number') return method.apply(this.inner, callArgs)
    const transactionID: TransactionID = id
    const key = String(transactionID)
    const scopes = this.transactions.take(transactionID)
    const ending: Promise<unknown> =
      operation === 'rollbackTransaction' || !scopes || scopes.size === 0
        ? Promise.resolve(method.apply(this.inner, callArgs))
        : // Invalidate even when commit throws: drizzle can roll back silently, and a needless
          // invalidation costs a miss while a missing one serves stale data.
          this.invalidating(scopes, operation, () => method.apply(this.inner, callArgs))
    // Writes of this transaction that return from here on wait for it (see write()).
    const landed = ending.then(
      () => undefined,
      () => undefined,
    )
    this.endingTransactions.set(key, landed)
    try {
      return await ending
    } finally {
      if (this.endingTransactions.get(key) === landed) this.endingTransactions.delete(key)
    }
  }

  /** Migrations, raw SQL, dropDatabase: anything may have changed. */
  async flush(method: Method, callArgs: unknown[], operation = 'flush'): Promise<unknown> {
    // Raw SQL can run inside an open transaction (`execute({ db: session.db })`) and only
    // becomes visible at its commit, after this bump: other isolates could refill the old
    // rows in between. The call does not say which session it used, so every open one
    // invalidates everything again when it commits.
    for (const id of Object.keys(this.inner.sessions ?? {})) {
      if (this.sessionIsLive(id)) this.transactions.record(id, ['*'])
    }
    return this.invalidating(['*'], operation, () => method.apply(this.inner, callArgs))
  }

  private async invalidating<T>(
    scopes: Iterable<StampScope>,
    operation: string,
    run: () => T | Promise<T>,
    after?: (result: unknown, threw: boolean) => StampScope[],
  ): Promise<T> {
    let list = [...scopes]
    // Held from before the write starts until the new stamps land (or the entries are
    // deleted): reads in this isolate go to the database meanwhile, so none of them can fill
    // or serve pre-write data as fresh.
    const release = this.stamps.hold(list)
    this.startEpoch(list)
    let held = true
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
        this.startEpoch(more)
        list = [...list, ...more]
      }
      this.countInvalidations(list, operation)
      if (this.options.invalidation === 'prefix') {
        const { done } = await this.purgeAfterFills(list)
        // Past the budget the rest is deleted in the background; keep bypassing until then.
        held = false
        void done.then((ok) => this.purgeSettled(list, ok)).finally(release)
      } else await this.stamps.bump(list)
      if (held) release()
    }
  }

  /**
   * What this isolate holds in memory, map by map. Every one is bounded or drains when work
   * settles (ARCHITECTURE.md, Invariants); the reliability tests read it after hundreds of concurrent calls.
   */
  footprint(): Record<string, number> {
    return {
      ...this.stamps.footprint(),
      flights: this.flights.size,
      fillsInFlight: this.fillsInFlight.size,
      background: this.background.size,
      pendingTransactions: this.transactions.size,
      writeEpochs: this.writeEpochs.size,
      writeStarts: this.writeStartedAt.size,
      endingTransactions: this.endingTransactions.size,
      purgeFailed: this.purgeFailed.size,
      reportKinds: this.lastReported.size,
    }
  }

  /** For the handle: resolves once the scopes are invalidated everywhere this isolate can tell. */
  async invalidate(scopes: Iterable<StampScope>, operation = 'invalidate'): Promise<void> {
    const list = [...scopes]
    // Changes made outside Payload name no documents: every document read goes too.
    if (this.documentLevel()) for (const scope of [...list]) if (scope !== '*' && scope.startsWith('c:') && !scope.includes('#')) list.push(bulkStamp(scope))
    const release = this.stamps.hold(list)
    this.startEpoch(list)
    try {
      this.countInvalidations(list, operation)
      if (this.options.invalidation === 'prefix') this.purgeSettled(list, await (await this.purgeAfterFills(list)).done)
      else await this.stamps.bumpAndWait(list)
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
    if (this.options.invalidation === 'stamp') await this.invalidate(scopes, 'purge')
    const release = this.stamps.hold(scopes)
    try {
      const ok = await (await this.purgeAfterFills(scopes)).done
      if (this.options.invalidation === 'prefix') this.purgeSettled(scopes, ok)
    } finally {
      release()
    }
  }

  /**
   * Prefix strategy: a purge that could not list or delete everything leaves entries that
   * may be stale. This isolate bypasses those scopes until a purge of them succeeds, retried
   * when a read needs them, at most once a second.
   */
  private purgeSettled(scopes: readonly StampScope[], ok: boolean): void {
    const now = this.clock()
    for (const scope of scopes) {
      if (ok) this.purgeFailed.delete(scope)
      else this.purgeFailed.set(scope, now)
    }
    if (!ok) this.report('purge', `could not delete every entry of ${scopes.join(', ')}; this isolate reads them from the database until a purge succeeds, other isolates may serve stale entries until their TTL`)
  }

  private purgeFailedFor(dependencies: readonly Scope[]): boolean {
    if (this.purgeFailed.size === 0) return false
    const failed: StampScope[] = dependencies.filter((scope) => this.purgeFailed.has(scope))
    if (this.purgeFailed.has('*')) failed.push('*')
    if (failed.length === 0) return false
    const now = this.clock()
    const due = failed.filter((scope) => now - this.purgeFailed.get(scope)! >= 1000)
    if (due.length > 0) {
      for (const scope of due) this.purgeFailed.set(scope, now)
      this.background.run(() => this.invalidate(due, 'purgeRetry'))
    }
    return true
  }

  /** The key prefixes holding every entry a write to these scopes can change. */
  private prefixesFor(scopes: readonly StampScope[]): string[] {
    const prefix = this.options.prefix
    if (scopes.includes('*')) return [`${prefix}:c:`, `${prefix}:g:`]
    const out = new Set<string>()
    for (const scope of scopes as Scope[]) {
      out.add(`${prefix}:${scope}:`)
      for (const reader of this.graph.readersOfScope(scope)) if (this.policy.isCached(reader)) out.add(`${prefix}:${reader}:`)
    }
    return [...out]
  }

  private startEpoch(scopes: readonly StampScope[]): void {
    this.auditor?.writeStarted(scopes)
    if (this.options.invalidation !== 'prefix') return
    const now = this.clock()
    for (const scope of scopes) {
      this.writeEpochs.set(scope, (this.writeEpochs.get(scope) ?? 0) + 1)
      this.writeStartedAt.set(scope, now)
    }
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

  /**
   * The stamps a write to `scope` must bump: none when no cached read depends on it. A SQL
   * delete also changes the rows that pointed at what it deleted (foreign keys set null or
   * cascade), so their scopes are bumped too.
   */
  private affectedBy(scope: Scope, deletes: boolean): StampScope[] {
    const out: StampScope[] = this.hasCachedReader(scope) ? [scope] : []
    if (deletes) {
      for (const referrer of this.graph.referrersOf(scope)) {
        // The referrer may itself be uncached (an auth collection) and still be traversed by
        // cached reads of others (`where: { 'author.avatar': ... }`).
        if (referrer !== scope && this.hasCachedReader(referrer)) out.push(referrer)
      }
    }
    return out
  }

  private hasCachedReader(scope: Scope): boolean {
    for (const reader of this.graph.readersOfScope(scope)) if (this.policy.isCached(reader)) return true
    return false
  }

  /** Drizzle adapters (Postgres, SQLite, D1) keep relationships as foreign keys; Mongo does not. */
  private hasForeignKeys(): boolean {
    return this.inner.drizzle !== undefined && this.inner.drizzle !== null
  }

  private bypass(call: () => unknown, reason: BypassReason, scope: Scope, operation: ReadOperation, started: number): unknown {
    this.counters.count('bypasses', scope, operation)
    this.counters.count(BYPASS_COUNTERS[reason], scope, operation)
    return this.events.enabled ? this.timedBypass(call, reason, scope, operation, started) : call()
  }

  private async timedBypass(call: () => unknown, reason: BypassReason, scope: Scope, operation: ReadOperation, started: number): Promise<unknown> {
    try {
      return await call()
    } finally {
      this.events.emit({ type: 'bypass', reason, scope, operation, ms: elapsedSince(started) })
    }
  }

  private emitRead(type: ReadEvent['type'], scope: Scope, operation: ReadOperation, key: string, started: number): void {
    this.events.emit({ type, scope, operation, key: shortKey(key), ms: elapsedSince(started) })
  }

  private kvFailed(failure: KVFailure, what: 'get' | 'put', scope: Scope, operation: ReadOperation, key: string, started: number): void {
    // SafeKV counted the total; this adds where it happened.
    this.counters.attribute(failure === 'timeout' ? 'timeouts' : 'kvErrors', scope, operation)
    if (this.events.enabled) this.events.emit({ type: failure === 'timeout' ? 'timeout' : 'kvError', what, scope, operation, key: shortKey(key), ms: elapsedSince(started) })
  }

  private fillSkipped(reason: FillSkipReason, scope: Scope, operation: ReadOperation, key: string): void {
    this.counters.count('fillSkips', scope, operation)
    this.counters.count(FILL_SKIP_COUNTERS[reason], scope, operation)
    if (this.events.enabled) this.events.emit({ type: 'fillSkip', reason, scope, operation, key: shortKey(key), ms: 0 })
  }

  private countInvalidations(scopes: readonly StampScope[], operation: string): void {
    for (const scope of scopes) {
      // Document and bulk stamps refine their collection's invalidation: not counted again.
      if (scope.includes('#')) continue
      this.counters.count('invalidations', scope, operation)
      if (this.events.enabled) this.events.emit({ type: 'invalidation', scope, operation, ms: 0 })
    }
  }

  /** A transaction is live when its id resolves to one the inner adapter holds a session for. */
  private async liveTransaction(req: Args['req']): Promise<TransactionID | null> {
    const pending = req?.transactionID
    if (pending === undefined || pending === null) return null
    let id: unknown
    try {
      id = await pending
    } catch {
      return null
    }
    if (typeof id !== 'string' && typeof id !== 'number') return null
    return this.sessionIsLive(id) ? id : null
  }

  private sessionIsLive(id: TransactionID): boolean {
    const session = this.inner.sessions?.[id] as { inTransaction?: () => boolean } | undefined
    if (!session) return false
    // Mongo keeps sessions that are no longer in a transaction; its adapter then writes
    // without one, so such a session is not live.
    return typeof session.inTransaction === 'function' ? session.inTransaction() : true
  }

  private keyFor(operation: ReadOperation, ref: ScopeRef, scope: Scope, args: Args): string | undefined {
    let defaultDigest: string
    try {
      defaultDigest = argumentsDigest(this.keyNamespace, operation, args)
    } catch (error) {
      if (error instanceof UncacheableArgumentError) return undefined
      throw error
    }
    let keyDigest = defaultDigest
    if (this.options.key) {
      try {
        const { req: _req, ...rest } = args
        const custom = this.options.key({ operation, kind: ref.kind, slug: ref.slug, args: rest, defaultDigest })
        if (typeof custom !== 'string' || custom.length === 0) throw new Error(`returned ${typeof custom === 'string' ? 'an empty string' : typeof custom}`)
        keyDigest = custom
      } catch (error) {
        this.report('key', `the \`key\` option threw or ${error instanceof Error ? error.message : String(error)}; using the default key`)
      }
    }
    let key = entryKey(this.options.prefix, scope, operation, keyDigest)
    if (key.length * 3 > KV_MAX_KEY_BYTES && byteLength(key) > KV_MAX_KEY_BYTES) {
      if (keyDigest !== defaultDigest) key = entryKey(this.options.prefix, scope, operation, digest(keyDigest))
      // A slug so long that even a digest does not fit: this scope is not cached.
      if (byteLength(key) > KV_MAX_KEY_BYTES) return undefined
    }
    return key
  }

  /** The entry for a result; undefined (and counted) when it cannot be cached. */
  private encode(signature: string, now: number, ttl: number, result: unknown, scope: Scope, operation: ReadOperation, key: string): string | undefined {
    let text: string
    try {
      text = encodeEnvelope(signature, now, now + ttl * 1000, result)
    } catch {
      this.fillSkipped('uncacheable', scope, operation, key)
      return undefined
    }
    if (text.length * 3 > KV_LIMITS.maxValueBytes && byteLength(text) > KV_LIMITS.maxValueBytes) {
      this.fillSkipped('tooLarge', scope, operation, key)
      return undefined
    }
    return text
  }

  /** Writes the entry in the background; `landed` runs once the put is done (or failed). */
  private store(key: string, text: string, ttl: number, scope: Scope, operation: ReadOperation, landed: () => void): void {
    const expirationTtl = Math.max(KV_LIMITS.minExpirationTtl, Math.ceil(ttl))
    const running = (async (): Promise<void> => {
      const started = this.events.enabled ? timerStart() : 0
      const stored = await this.kv.putEntry(key, text, expirationTtl)
      if (stored !== true) return this.kvFailed(stored, 'put', scope, operation, key, started)
      this.counters.count('fills', scope, operation)
      if (this.events.enabled) this.events.emit({ type: 'fill', scope, operation, key: shortKey(key), ms: elapsedSince(started) })
    })().finally(() => {
      this.fillsInFlight.delete(running)
      landed()
    })
    // Prefix strategy: a purge must not list before a fill it could miss has landed.
    if (this.options.invalidation === 'prefix') this.fillsInFlight.add(running)
    this.background.run(() => running)
  }

  /** Prefix strategy: lets fills already under way land, then deletes under the prefixes. */
  private async purgeAfterFills(scopes: readonly StampScope[]): Promise<{ done: Promise<boolean> }> {
    // Fills other requests started: wait for them with a timer of this request's own.
    if (this.fillsInFlight.size > 0) await keepAlive(Promise.all(this.fillsInFlight))
    return this.purger.purge(this.prefixesFor(scopes))
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

export function toScope(ref: ScopeRef): Scope {
  return ref.kind === 'global' ? `g:${ref.slug}` : `c:${ref.slug}`
}

function controlTtl(control: CacheControl | undefined): number | undefined {
  const ttl = control?.ttl
  return typeof ttl === 'number' && Number.isFinite(ttl) && ttl > 0 ? ttl : undefined
}
