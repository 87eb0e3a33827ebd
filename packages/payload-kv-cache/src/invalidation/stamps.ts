/*
 * Over 300 lines on purpose: the writer loop, its waiters, slot accounting, retries and the
 * failure state all read and change one per-scope record, and the invariants between them
 * (a bump resolves only once covered; a slot is written at most once a second) are easier to
 * hold in one place. Token text and slot keys are in stamp-tokens.ts, the read side in
 * stamp-reads.ts.
 */
import type { BackgroundWork } from '../background.js'
import { RefCounts } from '../refcounts.js'
import type { Scope } from '../keys.js'
import { StampReads } from './stamp-reads.js'
import type { StampScope } from './stamp-tokens.js'
import { CLOCK_SKEW_MS, foldedStamp, localToken, newToken, newWriterID, slotKeys, STAMP_WRITE_INTERVAL_MS } from './stamp-tokens.js'
import type { EventSink } from '../events.js'
import { elapsedSince, timerStart } from '../events.js'
import type { Counters } from '../stats.js'
import { currentRequest } from '../context.js'
import type { KVFailure, SafeKV } from '../store.js'
import { FOLD_AT } from '../store.js'

export type { StampScope } from './stamp-tokens.js'

/** Waits before the retries of a stamp write whose every free slot failed. */
const RETRY_BACKOFF_MS = [1000, 2000, 4000]
/**
 * After a stamp write was given up on, KV is taken to be failing for this long: a bump then
 * waits for one attempt, not for the whole retry schedule (a write must not take 10 s in an
 * outage), and says so in README *Limits*.
 */
const OUTAGE_MS = 60_000

/**
 * How far past the moment the next slot frees a burst token's horizon reaches: the whole
 * retry schedule of the put that slot will carry (every attempt timing out, every backoff
 * slept), plus the clock skew allowed between isolates. The horizon ends earlier, when that put
 * lands (stamp-reads.ts, `burstOpen`); this bound only matters when it never does.
 */
export function burstReachMs(kvTimeoutMs: number): number {
  return RETRY_BACKOFF_MS.reduce((sum, ms) => sum + ms, 0) + (RETRY_BACKOFF_MS.length + 1) * kvTimeoutMs + CLOCK_SKEW_MS
}
const MAX_IDLE_SCOPES = 1000
/** Failed stamps remembered one by one; past it, documents' and partitions' failures fold into their collections' (foldedStamp). */
const MAX_FAILED = 1000
/**
 * Document stamps one collection may put per second; past it, the rest of that second's
 * document bumps become one bump of its bulk stamp. A bulk edit (Payload updates and deletes
 * by `where` one document at a time) would otherwise put a stamp per document, and Workers
 * allow 1,000 KV operations per invocation: past them every put fails and the documents stay
 * stale in other isolates until TTL. The bulk stamp invalidates a superset.
 */
export const DOCUMENT_STAMPS_PER_SECOND = 20
/**
 * Document and partition stamps one request may bump one by one; past it, or once it has made
 * `FOLD_AT` KV operations, they fold too. Workers count KV operations per invocation, and a bulk
 * edit on D1 (no transaction) is one request writing document after document for longer than a
 * second: folded early, its writes keep to a few stamps, each written at most once a second per
 * slot, and the budget lasts (README *Limits*).
 */
export const FINE_STAMPS_PER_REQUEST = 20
/** A writer this old hands its loop to the next request's bump (waitUntil has a lifetime). */
const WRITER_HANDOVER_MS = 10_000
/** A sleeping writer this late past its wake-up is taken for cancelled. */
const WRITER_OVERSLEEP_MS = 500
/** How often a bump waiting on a sleeping writer checks that it is still alive. */
const REVIVE_TICK_MS = 250

interface Waiter {
  /** The first attempt that covers the bump: the first started after it. */
  target: number
  /** `invalidate()`: waits for a landed token, not for a burst horizon or a failure. */
  untilLanded: boolean
  /** A burst horizon may cover it: resolved by a read, made after it asked, that finds the horizon still open. */
  verify: boolean
  resolve: () => void
}

interface ScopeState {
  /** The stamp's slot keys, slot 0 first. */
  keys: readonly string[]
  /** When this isolate last attempted a write of each slot (landed or not). */
  attemptedAt: number[]
  /** A bump was asked for that no write started since covers. */
  dirty: boolean
  /** The loop writing this stamp, while one runs. */
  writer: Promise<void> | undefined
  /** Which writer is current: an older one still sleeping exits when it wakes. */
  writerId: number
  writerStartedAt: number
  /** When the writer should have made progress by; past it, it is taken for cancelled. */
  deadline: number
  /** Write attempts started, and the latest one that landed. */
  started: number
  settled: number
  /** The horizon of the newest burst token this isolate landed (see `Stamps`). */
  burstUntil: number
  /**
   * The newest token this isolate landed is a burst token: other isolates bypass the scope
   * until a newer one of ours lands, so the writer puts one even when no bump asks for it.
   */
  burstOpen: boolean
  /**
   * When this isolate last attempted a put that only closes a burst. That put takes a slot for
   * a second like any other, but it is no write: a put that takes the last slot within that
   * second carries no horizon (`writeLoop`).
   */
  closedAt: number
  /** When the writer, sleeping for a slot or a retry, should wake. */
  wakeAt: number | undefined
  waiters: Waiter[]
  /**
   * A token only this isolate reads under while a bump waits for a write to carry it: its
   * reads hit and fill under it meanwhile, and nothing filled under it is valid elsewhere.
   */
  pending: string | undefined
}

export interface StampsOptions {
  kv: SafeKV
  prefix: string
  clock: () => number
  sleep: (ms: number) => Promise<void>
  counters: Counters
  background: BackgroundWork
  report: (message: string) => void
  /** Past a writer's next expected step by this much, it is taken for cancelled. */
  writerGraceMs?: number
  /**
   * How far past the next free slot a burst token's horizon reaches at most (`burstReachMs`):
   * long enough for the trailing put's whole retry schedule, on a clock a little off from ours.
   */
  burstMarginMs?: number
  events?: EventSink
}

/**
 * Invalidation stamps (ARCHITECTURE.md, Invalidation strategies). Each scope's stamp holds random tokens; an
 * entry is valid only while the tokens it was filled under are current, so a write
 * invalidates every entry of a scope with one KV put, and a fill that raced a write lands
 * under a dead token.
 *
 * KV takes one write per second per key, so a stamp is spread over `STAMP_SLOTS` keys that
 * every read fetches together. A bump resolves once a token put after it has landed: every
 * isolate that KV shows that token to stops serving what the write replaced. When a bump uses
 * the last slot free this second, its token also carries a burst horizon: until then other
 * isolates bypass the scope, because a further write could not put a token before a slot
 * frees. A bump that finds no slot free returns at once when such a horizon covers the put
 * that the next free slot will carry, and waits for that put otherwise; one refused on every
 * slot (another isolate's burst took them) waits for its retry. So a write is never hidden,
 * once it has returned, from an isolate that KV shows its put to, however many writes a
 * second a scope takes: a burst costs other isolates some hits, not correctness. Meanwhile
 * this isolate reads under a local token of its own for its bumps that no put carries yet.
 * While a failed stamp write is retried, and after it is given up on, this isolate bypasses
 * the scope.
 */
export class Stamps {
  private readonly kv: SafeKV
  private readonly prefix: string
  private readonly clock: () => number
  private readonly sleep: (ms: number) => Promise<void>
  private readonly counters: Counters
  private readonly background: BackgroundWork
  private readonly report: (message: string) => void
  private readonly writerGraceMs: number
  private readonly burstMarginMs: number
  private readonly events: EventSink | undefined
  private readonly inFlight = new RefCounts<StampScope>()
  private readonly states = new Map<StampScope, ScopeState>()
  /** Scopes whose last bump never landed after its retries, with the time of giving up. */
  private readonly failed = new Map<StampScope, number>()
  /** Document stamps bumped in the current second, by collection (bounded by the config). */
  private readonly documentBumps = new Map<Scope, { start: number; count: number }>()
  /** Scopes whose stamp write failed and is being retried: reads bypass until one lands. */
  private readonly retrying = new Set<StampScope>()
  /** Scopes with bumps that a burst horizon may cover, for the next verifying read. */
  private readonly toVerify = new Set<StampScope>()
  /** When a stamp write was last given up on (see OUTAGE_MS). */
  private lastGiveUp = -Infinity
  /** The first characters of every token this isolate writes: readers tell its bursts apart by them. */
  private readonly writer = newWriterID()
  /** What reads ask of the stamps; it learns from this writer what KV may not show yet. */
  readonly reads: StampReads

  constructor(options: StampsOptions) {
    this.kv = options.kv
    this.prefix = options.prefix
    this.clock = options.clock
    this.sleep = options.sleep
    this.counters = options.counters
    this.background = options.background
    this.report = options.report
    this.writerGraceMs = options.writerGraceMs ?? 10_000
    this.burstMarginMs = options.burstMarginMs ?? burstReachMs(1000)
    this.events = options.events
    this.reads = new StampReads(options.prefix, options.clock, this.writer)
  }

  /** Entries held per map, for tests and diagnostics: each is bounded. */
  footprint(): Record<string, number> {
    return {
      stampScopes: this.states.size,
      stampsInFlight: this.inFlight.size,
      stampsFailed: this.failed.size,
      stampsRetrying: this.retrying.size,
      ...this.reads.footprint(),
      documentBumpWindows: this.documentBumps.size,
    }
  }

  /**
   * Collection stamps are bounded by the config; document and partition stamps by nothing,
   * so in a long outage their failures are folded into their collections' bulk or unknown
   * partition stamps, which every read depending on them also checks: this isolate keeps bypassing them, and the bulk stamp's
   * retry invalidates them everywhere once KV is back.
   */
  private markFailed(scope: StampScope): void {
    this.failed.set(scope, this.clock())
    if (this.failed.size <= MAX_FAILED) return
    for (const failed of [...this.failed.keys()]) {
      const folded = foldedStamp(failed)
      if (folded === undefined) continue
      this.failed.delete(failed)
      this.failed.set(folded, this.clock())
    }
  }

  /**
   * True when a write to one of these scopes is still running, or its stamp could not be
   * written: a read cannot tell then which entries are current. A bump waiting for a free
   * slot is not unsettled: its local token is part of the signature.
   */
  isUnsettled(dependencies: readonly Scope[]): boolean {
    if (this.inFlight.size === 0 && this.failed.size === 0 && this.retrying.size === 0) return false
    if (this.unsettled('*')) return true
    let unsettled = false
    for (const scope of dependencies) if (this.unsettled(scope)) unsettled = true
    return unsettled
  }

  private unsettled(scope: StampScope): boolean {
    if (this.inFlight.has(scope)) return true
    if (this.retrying.has(scope)) {
      const state = this.states.get(scope)
      // Its writer was cancelled mid-retry: start another.
      if (state && this.clock() > state.deadline) void this.request(scope, false)
      return true
    }
    const last = this.failed.get(scope)
    if (last === undefined) return false
    // A read of a scope whose bump was given up on tries again, at most once a second.
    if (this.clock() - last >= STAMP_WRITE_INTERVAL_MS) {
      this.failed.set(scope, this.clock())
      void this.request(scope, false)
    }
    return true
  }

  /** Marks scopes as being written; returns the release. */
  hold(scopes: Iterable<StampScope>): () => void {
    return this.inFlight.hold(scopes)
  }

  /**
   * Asks for new tokens. Resolves once every isolate KV shows the newest put to will not
   * serve what the caller's write replaced: a put started after this call has landed, or a
   * burst horizon covers the put still to come; or once the put failed (this isolate then
   * bypasses the scope while it retries). Never throws.
   */
  async bump(scopes: Iterable<StampScope>): Promise<void> {
    await this.covered(this.fold(scopes), false)
  }

  /**
   * Requests the bumps and waits until each is covered. The covering write may run in an
   * earlier request's writer loop, which Workers can cancel with that request: one that
   * oversleeps is replaced while we wait.
   */
  private async covered(scopes: readonly StampScope[], untilLanded: boolean): Promise<void> {
    let done = false
    const all = Promise.all(scopes.map((scope) => this.request(scope, untilLanded))).finally(() => (done = true))
    while (!done) {
      let timer: ReturnType<typeof setTimeout> | undefined
      const tick = new Promise<void>((resolve) => (timer = setTimeout(resolve, REVIVE_TICK_MS)))
      // A timer of this request's own: Workers do not cancel it as hung meanwhile.
      await Promise.race([all, tick])
      clearTimeout(timer)
      if (done) break
      const now = this.clock()
      for (const scope of scopes) {
        const state = this.states.get(scope)
        if (state?.writer && overslept(state, now)) this.startWriter(scope, state, now)
      }
    }
    await all
  }

  /**
   * Past `DOCUMENT_STAMPS_PER_SECOND` for a collection, document stamps become the
   * collection's bulk stamp, and partition stamps its unknown partition stamp.
   */
  private fold(scopes: Iterable<StampScope>): StampScope[] {
    const out = new Set<StampScope>()
    const now = this.clock()
    const request = currentRequest()
    const foldAll = request !== undefined && request.used >= FOLD_AT
    for (const scope of scopes) {
      const folded = foldedStamp(scope)
      if (folded === undefined) {
        out.add(scope)
        continue
      }
      if (request && (foldAll || request.fineStamps >= FINE_STAMPS_PER_REQUEST)) {
        this.counters.count('stampsFolded', scope, undefined)
        out.add(folded)
        continue
      }
      if (request) request.fineStamps++
      let window = this.documentBumps.get(folded)
      if (!window || now - window.start >= STAMP_WRITE_INTERVAL_MS) this.documentBumps.set(folded, (window = { start: now, count: 0 }))
      if (window.count < DOCUMENT_STAMPS_PER_SECOND) {
        window.count++
        out.add(scope)
      } else {
        this.counters.count('stampsFolded', scope, undefined)
        out.add(folded)
      }
    }
    return [...out]
  }

  /**
   * Asks for new tokens and resolves once a write started after this call has landed (or
   * been given up on), without waiting for writes that later bumps keep asking for.
   */
  async bumpAndWait(scopes: Iterable<StampScope>): Promise<void> {
    await this.covered(this.fold(scopes), true)
  }

  /** Records a bump and makes sure a writer will carry it; resolves when it is covered. */
  private request(scope: StampScope, untilLanded: boolean): Promise<void> {
    let state = this.states.get(scope)
    if (!state) {
      this.sweepIdle()
      const keys = slotKeys(this.prefix, scope)
      state = {
        keys,
        attemptedAt: keys.map(() => -Infinity),
        dirty: false,
        writer: undefined,
        writerId: 0,
        writerStartedAt: 0,
        deadline: 0,
        started: 0,
        settled: 0,
        burstUntil: -Infinity,
        burstOpen: false,
        closedAt: -Infinity,
        wakeAt: undefined,
        waiters: [],
        pending: undefined,
      }
      this.states.set(scope, state)
    }
    state.dirty = true
    // A new local token for every bump: fills made under the previous one predate this write.
    state.pending = localToken(this.clock())
    if (!this.retrying.has(scope)) this.reads.setLocal(state.keys[0]!, state.pending)
    const now = this.clock()
    // A writer that overslept its wake-up was cancelled with its request (Workers end
    // waitUntil work ~30 s after the response): joining it would wait forever.
    const runningWriter =
      state.writer !== undefined && !overslept(state, now) && now <= state.deadline && now - state.writerStartedAt < WRITER_HANDOVER_MS
    // The next attempt to start covers this bump; one already under way does not. A burst
    // horizon may cover it sooner, once a read made from now on finds the horizon still there.
    const target = state.started + 1
    const verify = !untilLanded && this.burstCovers(scope, state, now)
    const covered = new Promise<void>((resolve) => state.waiters.push({ target, untilLanded, verify, resolve }))
    if (verify) this.scheduleVerify(scope)
    if (runningWriter) {
      this.counters.count('stampsCoalesced', scope, undefined)
      return covered
    }
    // None running, or one past its deadline, cancelled, or running for long: a new loop,
    // in this request.
    this.startWriter(scope, state, now)
    return covered
  }

  private startWriter(scope: StampScope, state: ScopeState, now: number): void {
    const id = ++state.writerId
    state.writerStartedAt = now
    state.deadline = now + this.writerGraceMs
    state.wakeAt = undefined
    const writer = this.writeLoop(scope, state, id)
    state.writer = writer
    // Through waitUntil on Workers: a trailing write must outlive the response.
    this.background.run(() => writer)
  }

  /**
   * True when no slot is free and a burst token this isolate landed reaches past the whole
   * retry schedule of the put that the next free slot will carry: other isolates bypass the
   * scope until that put has landed, if KV still holds the token (`verify`). Not while the
   * stamp's writes are failing: the horizon would then promise a put that may not come. Not on
   * Workers without `waitUntil`: the put would be dropped with the response.
   */
  private burstCovers(scope: StampScope, state: ScopeState, now: number): boolean {
    if (!this.background.outlivesResponse || this.retrying.has(scope)) return false
    // The newest token this isolate landed must be the burst token: a later plain one closed it.
    return state.burstOpen && freeSlot(state, now) < 0 && state.burstUntil >= this.reachNeeded(state)
  }

  /** How far a horizon must reach to cover the put the next free slot carries, less the skew allowance. */
  private reachNeeded(state: ScopeState): number {
    return nextFreeAt(state) + this.burstMarginMs - CLOCK_SKEW_MS
  }

  /** Verifies on the next turn, so that the scopes of one write share one read. */
  private scheduleVerify(scope: StampScope): void {
    const first = this.toVerify.size === 0
    this.toVerify.add(scope)
    if (first) queueMicrotask(() => void this.verify())
  }

  /**
   * Resolves the bumps a burst horizon covers, once a read made after they asked finds this
   * isolate's burst still open in KV. Without the read a bump could return on a horizon that
   * another isolate's plain token had replaced (a KV that takes every put does, and production
   * KV after the second): readers would see no burst, and serve what the bump replaced until
   * its put lands. A bump the read does not clear waits for its put.
   */
  private async verify(): Promise<void> {
    const scopes = [...this.toVerify]
    this.toVerify.clear()
    const asked = new Map<StampScope, Waiter[]>()
    const keys: string[] = []
    for (const scope of scopes) {
      const state = this.states.get(scope)
      const waiters = state?.waiters.filter((waiter) => waiter.verify)
      if (!state || !waiters?.length) continue
      asked.set(scope, waiters)
      keys.push(...state.keys)
    }
    if (keys.length === 0) return
    const values = await this.kv.getEntries(keys)
    if (typeof values === 'string') return
    for (const [scope, waiters] of asked) {
      const state = this.states.get(scope)
      if (!state) continue
      const until = this.reads.ownOpenBurst(state.keys, values)
      if (until === undefined || until < this.reachNeeded(state)) continue
      this.counters.count('stampsVerified', scope, undefined)
      this.release(state, (waiter) => waiters.includes(waiter))
    }
  }

  /**
   * Writes the stamp until no bump is left uncovered: each put into the slot this isolate
   * wrote least lately, none into a slot it wrote within the second. A refused put moves to
   * the next free slot at once; when every free slot refused, it retries with backoff and
   * this isolate bypasses the scope meanwhile. Stops when a newer writer took over.
   */
  private async writeLoop(scope: StampScope, state: ScopeState, id: number): Promise<void> {
    // KV failing lately (a write given up on): one attempt, then the write returns.
    let failures = this.clock() - this.lastGiveUp < OUTAGE_MS ? RETRY_BACKOFF_MS.length : 0
    let attemptsThisRound = 0
    let retryAt = -Infinity
    /** The first attempt after a backoff: counted as one retry, whichever slots it goes on to. */
    let retryRound = false
    try {
      // After a burst token, one more put even with no bump asking: it closes the burst.
      while ((state.dirty || state.burstOpen) && state.writerId === id) {
        const now = this.clock()
        const slot = freeSlot(state, now)
        const wait = Math.max(slot < 0 ? nextFreeAt(state) - now : 0, retryAt - now)
        if (wait > 0) {
          state.deadline = now + wait + this.writerGraceMs
          state.wakeAt = now + wait
          await this.sleep(wait)
          if (state.writerId !== id) return
          state.wakeAt = undefined
          continue
        }
        state.deadline = now + this.writerGraceMs
        // A put that only closes a burst (no bump asked for it since the last put started)
        // carries no horizon: no write waits on it, and one would take the last free slot again
        // and again, a burst without end. No bump may return on the old horizon while it is in
        // flight, as its landing ends that horizon.
        const closing = !state.dirty
        if (closing) {
          state.burstOpen = false
          state.closedAt = now
        }
        // Every write that asked before this point has finished: this token covers them all.
        state.dirty = false
        state.attemptedAt[slot] = now
        const attempt = ++state.started
        const carried = state.pending
        if (retryRound) this.counters.count('stampRetries', scope, undefined)
        retryRound = false
        // The last slot free this second: until the next one
        // frees, only a horizon can tell other isolates about a further write. A document's
        // stamp needs none: its next bump this second goes to the bulk stamp (see fold). Nor
        // does a put whose second holds a closing put: the writes themselves then came at most
        // two a second, which is no burst (README *Write bursts*). A further write this second
        // waits for a slot to free instead. With a horizon, it would take one more closing put,
        // which takes a slot again: two writes a second after any burst would keep other
        // isolates off the scope, and the writing isolate filling twice, for as long as they last.
        const burstUntil =
          !closing && now - state.closedAt >= STAMP_WRITE_INTERVAL_MS && state.keys.length > 1 && freeSlot(state, now) < 0
            ? nextFreeAt(state) + this.burstMarginMs
            : undefined
        const written = await this.writeToken(scope, state.keys[slot]!, newToken(now, burstUntil, this.writer))
        if (written === true) {
          failures = 0
          attemptsThisRound = 0
          retryAt = -Infinity
          this.retrying.delete(scope)
          this.failed.delete(scope)
          this.lastGiveUp = -Infinity
          if (burstUntil !== undefined) state.burstUntil = burstUntil
          state.burstOpen = burstUntil !== undefined
          // KV now holds a new token; a bump asked for during the put keeps its local one.
          if (state.pending === carried) {
            state.pending = undefined
            this.reads.setLocal(state.keys[0]!, undefined)
          } else if (state.pending !== undefined) this.reads.setLocal(state.keys[0]!, state.pending)
          this.settle(scope, state, attempt)
          continue
        }
        // A newer writer took over meanwhile: its own puts decide what this isolate reads.
        if (state.writerId !== id) return
        state.dirty = true
        // This request's KV operations are spent (Workers allow 1,000 per invocation): no
        // retry can land from it. Given up on here; the next bump or read of the scope, in
        // another request, starts a writer of its own (unsettled()).
        if (written === 'budget') failures = RETRY_BACKOFF_MS.length
        attemptsThisRound++
        // Refused (a 429: another isolate wrote that key this second) or failed at once: the
        // next free slot at once, each slot once a round. A KV that does not answer would
        // only make the write wait once per slot.
        if (written !== 'timeout' && written !== 'budget' && attemptsThisRound < state.keys.length && freeSlot(state, this.clock()) >= 0)
          continue
        attemptsThisRound = 0
        failures++
        retryRound = true
        retryAt = this.clock() + (RETRY_BACKOFF_MS[failures - 1] ?? 0)
        // KV may be failing for a while: stop reading under the local token, bypass instead.
        this.retrying.add(scope)
        state.pending = undefined
        this.reads.setLocal(state.keys[0]!, undefined)
        if (failures > RETRY_BACKOFF_MS.length) {
          state.dirty = false
          // Its horizon ends by itself (burstReachMs): nothing more to close.
          state.burstOpen = false
          if (written !== 'budget') this.lastGiveUp = this.clock()
          this.retrying.delete(scope)
          this.counters.count('stampFailures', scope, undefined)
          this.markFailed(scope)
          // Given up: nobody waits for a write that will not come.
          this.release(state, () => true)
          this.report(
            `could not write the invalidation stamp for ${scope} after ${failures} attempts; this isolate bypasses the cache for it until a write lands, other isolates may serve stale entries until their TTL`,
          )
        }
        // Otherwise the bumps wait for the retry: until a put lands, other isolates still see
        // the tokens the write replaced (refused on every slot, timed out, or failed), and
        // returning would hide the write from them. A put that timed out may still land; the
        // retry's token replaces it either way.
      }
    } finally {
      // Synchronously with the loop's last check: a bump arriving after it starts a new writer.
      if (state.writerId === id) state.writer = undefined
    }
  }

  /**
   * Resolves the waiters the landed attempt covers; those its burst horizon may cover are
   * verified (the horizon landed before some of them asked, and may have been replaced since).
   */
  private settle(scope: StampScope, state: ScopeState, attempt: number): void {
    state.settled = Math.max(state.settled, attempt)
    if (state.waiters.length === 0) return
    this.release(state, (waiter) => waiter.target <= state.settled)
    if (state.waiters.length === 0 || !this.burstCovers(scope, state, this.clock())) return
    let any = false
    for (const waiter of state.waiters) {
      if (waiter.untilLanded) continue
      waiter.verify = any = true
    }
    if (any) this.scheduleVerify(scope)
  }

  private release(state: ScopeState, done: (waiter: Waiter) => boolean): void {
    const waiting: Waiter[] = []
    for (const waiter of state.waiters) {
      if (done(waiter)) waiter.resolve()
      else waiting.push(waiter)
    }
    state.waiters = waiting
  }

  private async writeToken(scope: StampScope, key: string, token: string): Promise<true | KVFailure> {
    const started = this.events?.enabled ? timerStart() : 0
    const written = await this.kv.putEntry(key, token)
    if (this.events?.enabled)
      this.events.emit({ type: 'stampWrite', scope, operation: 'stamp', ok: written === true, ms: elapsedSince(started) })
    if (written !== true) return written
    this.counters.count('stampWrites', scope, undefined)
    this.reads.wrote(key, token)
    return true
  }

  /** Forgets idle scopes past the bound; their next bump simply goes out at once. */
  private sweepIdle(): void {
    if (this.states.size < MAX_IDLE_SCOPES) return
    const now = this.clock()
    for (const [scope, state] of this.states) {
      if (!state.writer && state.waiters.length === 0 && now - Math.max(...state.attemptedAt) >= STAMP_WRITE_INTERVAL_MS)
        this.states.delete(scope)
    }
  }
}

/** The slot this isolate wrote least lately, if it wrote none of it within the second; else -1. */
function freeSlot(state: ScopeState, now: number): number {
  let best = -1
  for (let slot = 0; slot < state.attemptedAt.length; slot++) {
    const at = state.attemptedAt[slot]!
    if (now - at < STAMP_WRITE_INTERVAL_MS) continue
    if (best < 0 || at < state.attemptedAt[best]!) best = slot
  }
  return best
}

function overslept(state: ScopeState, now: number): boolean {
  return state.wakeAt !== undefined && now > state.wakeAt + WRITER_OVERSLEEP_MS
}

/** When the slot this isolate wrote least lately frees. */
function nextFreeAt(state: ScopeState): number {
  return Math.min(...state.attemptedAt) + STAMP_WRITE_INTERVAL_MS
}
