import { decodeEnvelope, encodeBody, envelopeText } from './codec.js'
import { controlFor } from './context.js'
import { entryKeyFor } from './entry-key.js'
import type { EngineContext } from './engine.js'
import type { ReadEvent } from './events.js'
import { elapsedSince, shortKey, timerStart } from './events.js'
import type { Args, FillDecision, ReadTicket } from './invalidation/strategy.js'
import type { Scope } from './keys.js'
import { byteLength, toScope } from './keys.js'
import { KV_LIMITS } from './kv.js'
import type { ReadOperation } from './operations.js'
import { scopeOfCall } from './operations.js'
import type { CacheControl } from './options.js'
import type { InnerAdapter } from './schema.js'
import type { BypassReason, FillSkipReason } from './stats.js'
import { BYPASS_COUNTERS, FILL_SKIP_COUNTERS } from './stats.js'
import type { KVFailure } from './store.js'
import { READS_STOP_AT } from './store.js'

export type Method = (this: InnerAdapter, ...args: unknown[]) => unknown

/** The read outcomes counted once the database has answered. */
type MissOutcome = 'misses' | 'stale' | 'malformed'

/** Misses coalesced at once per isolate; past it, misses simply go to the database. */
const MAX_FLIGHTS = 1000

/**
 * The read path (ARCHITECTURE.md, read path): lookup, then hit, or coalesce, database and
 * fill. What makes an entry valid is the strategy's to say; this file only asks.
 */
export class ReadPath {
  /** Misses on their way to the database, by key and signature: each resolves to the entry. */
  private readonly flights = new Map<string, Promise<string | undefined>>()

  constructor(private readonly ctx: EngineContext) {}

  get flightCount(): number {
    return this.flights.size
  }

  async read(operation: ReadOperation, method: Method, args: Args): Promise<unknown> {
    const { ctx } = this
    const call = () => method.call(ctx.inner, args)
    const ref = scopeOfCall(operation, args)
    if (!ref) return call()
    const scope = toScope(ref)
    // Timings are taken only when someone listens: the hot path stays as it was.
    const started = ctx.events.enabled ? timerStart() : 0
    const control = controlFor(args.req)
    let ttl = ctx.schema().policy.ttlFor(scope, operation)
    if (ttl === null) return this.bypass(call, 'excluded', scope, operation, started)
    if (control?.bypass) return this.bypass(call, 'requested', scope, operation, started)
    if (ctx.transactions.inWrite(args.req) || (await ctx.transactions.live(args.req)) !== null)
      return this.bypass(call, 'transaction', scope, operation, started)
    const strategy = ctx.strategy
    // README, Strong consistency: asked for by the scope or the request; without the Durable
    // Object it cannot be kept, so the database answers.
    const strong = control?.consistency === 'strong' || ctx.schema().policy.isStrong(scope)
    if (strong && !strategy.strong) return this.bypass(call, 'strong', scope, operation, started)
    const dependencies = strategy.dependencies(operation, ref, scope, args, strong)
    if (strategy.unsettled(dependencies)) return this.bypass(call, 'pending', scope, operation, started)
    // A request that has spent most of its invocation's KV operations (a bulk edit) keeps the
    // rest for the stamp writes its writes still need: those decide what other isolates serve.
    if (ctx.kv.used() >= READS_STOP_AT) return this.bypass(call, 'budget', scope, operation, started)
    const key = entryKeyFor(ctx, operation, ref, scope, args, strong)
    if (key === undefined) return this.bypass(call, 'unkeyable', scope, operation, started)

    const ticket = strategy.beginRead(operation, scope, dependencies, key, strong)
    // An entry's time is when its read began, before the database call: the prefix strategy's
    // writing isolate rejects an entry whose query began before its write, whoever filled it.
    const begun = ctx.clock()
    // Before the fetch: a write in this isolate from here on makes an audit of this hit moot.
    const auditEpoch = ctx.auditor ? ctx.auditor.epochOf(dependencies) : 0
    const values = await ctx.kv.getEntries([key, ...ticket.keys])
    if (typeof values === 'string') {
      this.kvFailed(values, 'get', scope, operation, key, started)
      return call()
    }
    let judgement = strategy.judge(ticket, values)
    if (judgement instanceof Promise) judgement = await judgement
    if ('bypass' in judgement) return this.bypass(call, judgement.bypass, scope, operation, started)
    const { signature } = judgement
    const raw = values.get(key)
    let outcome: MissOutcome = 'misses'
    if (raw != null && !control?.refresh) {
      const entry = decodeEnvelope(raw)
      // A list entry's members may need a KV read (invalidation/members.ts); other answers are at hand.
      let current = entry.status === 'ok' && ctx.clock() < entry.expiresAt && strategy.serves(entry, signature, ticket, values)
      if (typeof current !== 'boolean') current = await current
      if (entry.status === 'foreign') outcome = 'malformed'
      else if (!current) outcome = 'stale'
      else {
        try {
          const result = entry.read()
          ctx.counters.count('hits', scope, operation)
          if (ctx.events.enabled) this.emitRead('hit', scope, operation, key, started)
          if (ctx.auditor?.sample()) {
            ctx.auditor.schedule({
              scope,
              operation,
              key,
              dependencies,
              epoch: auditEpoch,
              args,
              call: (copy) => method.call(ctx.inner, copy),
              served: entry.read,
            })
          }
          return result
        } catch {
          outcome = 'malformed'
        }
      }
    }
    ctx.counters.count(outcome, scope, operation)

    // Single-flight: an identical miss under the same stamps already went to the database.
    const flightKey = ticket.flight === undefined ? `${key}\n${signature}` : `${key}\n${signature}\n${ticket.flight}`
    const coalesce = ctx.options.coalesceWaitMs > 0 && !control?.refresh
    const joined = coalesce ? this.flights.get(flightKey) : undefined
    if (joined) {
      const shared = await this.awaitFlight(joined)
      if (shared !== undefined) {
        ctx.counters.count('coalesced', scope, operation)
        if (ctx.events.enabled) this.emitRead('coalesced', scope, operation, key, started)
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
    if (ctx.events.enabled) this.emitRead(outcome === 'misses' ? 'miss' : outcome, scope, operation, key, started)
    ttl = controlTtl(control) ?? ttl
    // Encoded now, before Payload's hooks mutate the result we hand back; dated from `begun`.
    const now = begun
    const encoded = this.encode(signature, now, ttl, result, scope, operation, key)
    // Callers arriving until the entry is in KV still share this result (a precise `find`'s
    // flight key says which document writes they saw: see ReadTicket.flight).
    settle?.(encoded?.text)
    const endFlight = () => {
      if (settle) this.flights.delete(flightKey)
    }
    if (encoded === undefined) {
      endFlight()
      return result
    }
    const decision = strategy.fill(ticket, signature, result)
    if (decision instanceof Promise) {
      // A list's members are checked after the query (invalidation/members.ts): in the
      // background, so the caller does not wait for that KV read.
      // One unit of background work, the put included: what `waitUntil` gets outlives it.
      const deciding = decision
        .then((settled) => this.fillWith(settled, encoded, now, ttl, ticket, values, scope, operation, key, endFlight, false))
        .catch(() => endFlight())
      ctx.background.run(() => deciding)
    } else void this.fillWith(decision, encoded, now, ttl, ticket, values, scope, operation, key, endFlight)
    return result
  }

  /** Stores the entry as the strategy decided, unless the read-replica window forbids it. */
  private fillWith(
    decision: FillDecision,
    encoded: { text: string; body: string; signature: string },
    now: number,
    ttl: number,
    ticket: ReadTicket,
    values: Map<string, string | null>,
    scope: Scope,
    operation: ReadOperation,
    key: string,
    endFlight: () => void,
    background = true,
  ): Promise<void> | undefined {
    const { ctx } = this
    if ('skip' in decision) {
      this.fillSkipped(decision.skip, scope, operation, key)
      endFlight()
      return
    }
    // With read replicas, a read soon after a write may have come from a replica that has not
    // caught up; filled under the new stamp, its old row would outlive replication.
    const replicaWindow = ctx.schema().replicaWindowMs()
    if (replicaWindow > 0) {
      const youngest = Math.max(ctx.strategy.youngestWrite(ticket, values), decision.youngestWrite ?? -Infinity)
      if (ctx.clock() - youngest < replicaWindow) {
        this.fillSkipped('replica', scope, operation, key)
        endFlight()
        return
      }
    }
    const text =
      decision.signature === encoded.signature ? encoded.text : envelopeText(decision.signature, now, now + ttl * 1000, encoded.body)
    if (text !== encoded.text && text.length * 3 > KV_LIMITS.maxValueBytes && byteLength(text) > KV_LIMITS.maxValueBytes) {
      this.fillSkipped('tooLarge', scope, operation, key)
      endFlight()
      return
    }
    return this.store(key, text, ttl, scope, operation, endFlight, background)
  }

  /** The first caller's result, as a copy of its own; undefined if it does not come in time. */
  private async awaitFlight(flight: Promise<string | undefined>): Promise<unknown> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.ctx.options.coalesceWaitMs)
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

  /** The entry for a result, and its encoded body; undefined (and counted) when it cannot be cached. */
  private encode(
    signature: string,
    now: number,
    ttl: number,
    result: unknown,
    scope: Scope,
    operation: ReadOperation,
    key: string,
  ): { text: string; body: string; signature: string } | undefined {
    let body: string
    try {
      body = encodeBody(result)
    } catch {
      this.fillSkipped('uncacheable', scope, operation, key)
      return undefined
    }
    const text = envelopeText(signature, now, now + ttl * 1000, body)
    if (text.length * 3 > KV_LIMITS.maxValueBytes && byteLength(text) > KV_LIMITS.maxValueBytes) {
      this.fillSkipped('tooLarge', scope, operation, key)
      return undefined
    }
    return { text, body, signature }
  }

  /**
   * Writes the entry in the background (or, `background` false, leaves the returned put to a
   * caller already in it); `landed` runs once the put is done (or failed).
   */
  private store(
    key: string,
    text: string,
    ttl: number,
    scope: Scope,
    operation: ReadOperation,
    landed: () => void,
    background = true,
  ): Promise<void> {
    const { ctx } = this
    const expirationTtl = Math.max(KV_LIMITS.minExpirationTtl, Math.ceil(ttl))
    const running = (async (): Promise<void> => {
      const started = ctx.events.enabled ? timerStart() : 0
      const stored = await ctx.kv.putEntry(key, text, expirationTtl)
      if (stored !== true) return this.kvFailed(stored, 'put', scope, operation, key, started)
      ctx.counters.count('fills', scope, operation)
      if (ctx.events.enabled) ctx.events.emit({ type: 'fill', scope, operation, key: shortKey(key), ms: elapsedSince(started) })
    })().finally(landed)
    ctx.strategy.trackFill(running)
    if (background) ctx.background.run(() => running)
    return running
  }

  private bypass(call: () => unknown, reason: BypassReason, scope: Scope, operation: ReadOperation, started: number): unknown {
    this.ctx.counters.count('bypasses', scope, operation)
    this.ctx.counters.count(BYPASS_COUNTERS[reason], scope, operation)
    return this.ctx.events.enabled ? this.timedBypass(call, reason, scope, operation, started) : call()
  }

  private async timedBypass(
    call: () => unknown,
    reason: BypassReason,
    scope: Scope,
    operation: ReadOperation,
    started: number,
  ): Promise<unknown> {
    try {
      return await call()
    } finally {
      this.ctx.events.emit({ type: 'bypass', reason, scope, operation, ms: elapsedSince(started) })
    }
  }

  private emitRead(type: ReadEvent['type'], scope: Scope, operation: ReadOperation, key: string, started: number): void {
    this.ctx.events.emit({ type, scope, operation, key: shortKey(key), ms: elapsedSince(started) })
  }

  private kvFailed(failure: KVFailure, what: 'get' | 'put', scope: Scope, operation: ReadOperation, key: string, started: number): void {
    // Not made at all (the request's operations are spent): no KV failure to report.
    if (failure === 'budget') return
    // SafeKV counted the total; this adds where it happened.
    this.ctx.counters.attribute(failure === 'timeout' ? 'timeouts' : 'kvErrors', scope, operation)
    if (this.ctx.events.enabled)
      this.ctx.events.emit({
        type: failure === 'timeout' ? 'timeout' : 'kvError',
        what,
        scope,
        operation,
        key: shortKey(key),
        ms: elapsedSince(started),
      })
  }

  private fillSkipped(reason: FillSkipReason, scope: Scope, operation: ReadOperation, key: string): void {
    this.ctx.counters.count('fillSkips', scope, operation)
    this.ctx.counters.count(FILL_SKIP_COUNTERS[reason], scope, operation)
    if (this.ctx.events.enabled) this.ctx.events.emit({ type: 'fillSkip', reason, scope, operation, key: shortKey(key), ms: 0 })
  }
}

function controlTtl(control: CacheControl | undefined): number | undefined {
  const ttl = control?.ttl
  return typeof ttl === 'number' && Number.isFinite(ttl) && ttl > 0 ? ttl : undefined
}
