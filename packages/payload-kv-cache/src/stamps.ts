import type { BackgroundWork } from './background.js'
import { bulkStamp, ownerOfStamp } from './documents.js'
import { keepAlive } from './keepalive.js'
import { RefCounts } from './refcounts.js'
import type { Scope } from './keys.js'
import { stampKey } from './keys.js'
import type { EventSink } from './events.js'
import { elapsedSince, timerStart } from './events.js'
import type { Counters } from './stats.js'
import type { SafeKV } from './store.js'

/** A scope, or `*`: the stamp every read checks, bumped by migrations and flushes. */
export type StampScope = Scope | '*'

/** KV accepts one write per second to a key; a second write inside it meets a 429. */
export const STAMP_WRITE_INTERVAL_MS = 1000
/** Waits before the retries of a stamp write that failed: the first one is KV's write interval. */
const RETRY_BACKOFF_MS = [1000, 2000, 4000]
/** How long KV's location caches may keep serving an older value (Cloudflare: about 60 s). */
const PROPAGATION_WINDOW_MS = 60_000
const MAX_RECENT = 1000
const MAX_IDLE_SCOPES = 1000
/** Failed stamps remembered one by one; past it, documents' failures fold into their collections'. */
const MAX_FAILED = 1000
/**
 * Document stamps one collection may put per second; past it, the rest of that second's
 * document bumps become one bump of its bulk stamp. A bulk edit (Payload updates and deletes
 * by `where` one document at a time) would otherwise put a stamp per document, and Workers
 * allow 1,000 KV operations per invocation: past them every put fails and the documents stay
 * stale in other isolates until TTL. The bulk stamp invalidates a superset.
 */
export const DOCUMENT_STAMPS_PER_SECOND = 20
/** A writer this old hands its loop to the next request's bump (waitUntil has a lifetime). */
const WRITER_HANDOVER_MS = 10_000

interface ScopeState {
  key: string
  /** When this isolate last attempted a write of the stamp (landed or not). */
  lastAttemptAt: number
  /** A bump was asked for that no write started since covers. */
  dirty: boolean
  /** The loop writing this stamp, while one runs. */
  writer: Promise<void> | undefined
  /** Which writer is current: an older one still sleeping exits when it wakes. */
  writerId: number
  writerStartedAt: number
  /** When the writer should have made progress by; past it, it is taken for cancelled. */
  deadline: number
  /** Write attempts started, and the latest one that landed or was given up on. */
  started: number
  settled: number
  /** `bumpAndWait` callers, each waiting for the first attempt started after its bump. */
  waiters: Array<{ target: number; resolve: () => void }>
  /**
   * A token only this isolate reads under while its trailing write waits for its slot: its
   * reads hit and fill under it meanwhile. The write itself puts a fresh token, so nothing
   * filled under this one is ever valid for another isolate (its view ignores writes other
   * isolates make in that second).
   */
  pending: string | undefined
}

/**
 * Invalidation stamps (DESIGN section 6). Each scope's stamp holds a random token; an entry
 * is valid only while the tokens it was filled under are current, so a write invalidates
 * every entry of a scope with one KV put, and a fill that raced a write lands under a dead
 * token.
 *
 * KV takes one write per second per key, so bumps of one scope are coalesced: the first goes
 * out at once, the ones that follow inside the second become one trailing write when the
 * second is over. Meanwhile this isolate reads under a local token of its own in place of
 * KV's, so the isolate that wrote never reads what it overwrote and still fills and hits.
 * Other isolates may serve the old entries until the trailing write lands: about a second,
 * plus KV's propagation. While a failed stamp write is retried, and after it is given up on,
 * this isolate bypasses the scope.
 */
export class Stamps {
  private readonly inFlight = new RefCounts<StampScope>()
  private readonly states = new Map<StampScope, ScopeState>()
  /** Scopes whose last bump never landed after its retries, with the time of giving up. */
  private readonly failed = new Map<StampScope, number>()
  private readonly keyCache = new Map<string, string[]>()
  /** Document stamps bumped in the current second, by collection (bounded by the config). */
  private readonly documentBumps = new Map<Scope, { start: number; count: number }>()
  /** Tokens this isolate wrote lately, by stamp key: KV's location cache may not show them yet. */
  private readonly recent = new Map<string, { token: string; at: number }>()
  /** Scopes whose stamp write failed and is being retried: reads bypass until one lands. */
  private readonly retrying = new Set<StampScope>()
  /** Local tokens this isolate reads under until its trailing write lands, by stamp key. */
  private readonly pendingByKey = new Map<string, string>()

  constructor(
    private readonly kv: SafeKV,
    private readonly prefix: string,
    private readonly clock: () => number,
    private readonly sleep: (ms: number) => Promise<void>,
    private readonly counters: Counters,
    private readonly background: BackgroundWork,
    private readonly report: (message: string) => void,
    /** Past a writer's next expected step by this much, it is taken for cancelled. */
    private readonly writerGraceMs = 10_000,
    private readonly events?: EventSink,
  ) {}

  /** Entries held per map, for tests and diagnostics: each is bounded. */
  footprint(): Record<string, number> {
    return {
      stampScopes: this.states.size,
      stampsInFlight: this.inFlight.size,
      stampsFailed: this.failed.size,
      stampsRetrying: this.retrying.size,
      stampKeySets: this.keyCache.size,
      recentTokens: this.recent.size,
      pendingTokens: this.pendingByKey.size,
      documentBumpWindows: this.documentBumps.size,
    }
  }

  /**
   * Collection stamps are bounded by the config; document stamps by nothing, so in a long
   * outage their failures are folded into their collections' bulk stamps, which every read
   * of those documents also checks: this isolate keeps bypassing them, and the bulk stamp's
   * retry invalidates them everywhere once KV is back.
   */
  private markFailed(scope: StampScope): void {
    this.failed.set(scope, this.clock())
    if (this.failed.size <= MAX_FAILED) return
    for (const failed of [...this.failed.keys()]) {
      if (!failed.includes('#=')) continue
      this.failed.delete(failed)
      this.failed.set(bulkStamp(ownerOfStamp(failed) as Scope), this.clock())
    }
  }

  /** The stamp keys a read depending on these scopes fetches, the global one first. */
  keysFor(dependencies: readonly Scope[]): string[] {
    const id = dependencies.join(',')
    let keys = this.keyCache.get(id)
    if (!keys) {
      keys = [stampKey(this.prefix, '*'), ...dependencies.map((dependency) => stampKey(this.prefix, dependency))]
      // Bounded by the distinct dependency sets reads produce; cleared wholesale if it grows.
      if (this.keyCache.size >= 1000) this.keyCache.clear()
      this.keyCache.set(id, keys)
    }
    return keys
  }

  /** After a config change: a scope's dependencies may be different. */
  forgetDependencies(): void {
    this.keyCache.clear()
  }

  /** What an entry must have been filled under to be valid now. */
  signature(keys: readonly string[], values: Map<string, string | null>): string {
    let out = ''
    for (const key of keys) out += (values.get(key) ?? '-') + '.'
    return out
  }

  /** The time the youngest of these stamps was written, from the time each token carries. */
  youngestWrite(keys: readonly string[], values: Map<string, string | null>): number {
    let youngest = -Infinity
    for (const key of keys) {
      const at = tokenTime(values.get(key))
      if (at > youngest) youngest = at
    }
    return youngest
  }

  /** Shows this isolate the tokens it is about to write in place of what KV holds. */
  overlay(keys: readonly string[], values: Map<string, string | null>): void {
    if (this.pendingByKey.size === 0) return
    for (const key of keys) {
      const pending = this.pendingByKey.get(key)
      if (pending !== undefined) values.set(key, pending)
    }
  }

  /**
   * True when KV answered a stamp with something other than the token this isolate wrote to
   * it within the propagation window: the answer may be a location cache's older value, and
   * trusting it could serve what this isolate's write replaced.
   */
  contradictsRecentWrites(keys: readonly string[], values: Map<string, string | null>): boolean {
    if (this.recent.size === 0) return false
    const now = this.clock()
    for (const key of keys) {
      const mine = this.recent.get(key)
      // A key read under a local token does not use KV's answer at all.
      if (!mine || this.pendingByKey.has(key)) continue
      if (now - mine.at > PROPAGATION_WINDOW_MS) this.recent.delete(key)
      else if (values.get(key) !== mine.token) return true
    }
    return false
  }

  /**
   * True when a write to one of these scopes is still running, or its stamp could not be
   * written: a read cannot tell then which entries are current. A stamp that is only waiting
   * for its trailing write is not unsettled: `overlay` shows its token.
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
      if (state && this.clock() > state.deadline) void this.request(scope, false).ready
      return true
    }
    if (!this.failed.has(scope)) return false
    // A read of a scope whose bump was given up on tries again, at most once a second.
    const last = this.failed.get(scope)!
    if (this.clock() - last >= STAMP_WRITE_INTERVAL_MS) {
      this.failed.set(scope, this.clock())
      void this.request(scope, false).ready
    }
    return true
  }

  /** Marks scopes as being written; returns the release. */
  hold(scopes: Iterable<StampScope>): () => void {
    return this.inFlight.hold(scopes)
  }

  /**
   * Asks for new tokens. Resolves once each scope is either written (when its write could go
   * out at once) or handed to a trailing write that this isolate waits for by bypassing.
   * Never throws.
   */
  async bump(scopes: Iterable<StampScope>): Promise<void> {
    await Promise.all(this.fold(scopes).map((scope) => this.request(scope, false).ready))
  }

  /** Past `DOCUMENT_STAMPS_PER_SECOND` for a collection, its document stamps become its bulk stamp. */
  private fold(scopes: Iterable<StampScope>): StampScope[] {
    const out = new Set<StampScope>()
    const now = this.clock()
    for (const scope of scopes) {
      if (!scope.includes('#=')) {
        out.add(scope)
        continue
      }
      const owner = ownerOfStamp(scope) as Scope
      let window = this.documentBumps.get(owner)
      if (!window || now - window.start >= STAMP_WRITE_INTERVAL_MS) this.documentBumps.set(owner, (window = { start: now, count: 0 }))
      if (window.count < DOCUMENT_STAMPS_PER_SECOND) {
        window.count++
        out.add(scope)
      } else out.add(bulkStamp(owner))
    }
    return [...out]
  }

  /**
   * Asks for new tokens and resolves once a write started after this call has landed (or
   * been given up on), without waiting for writes that later bumps keep asking for.
   */
  async bumpAndWait(scopes: Iterable<StampScope>): Promise<void> {
    // The covering write may run in an earlier request's writer loop.
    await keepAlive(
      Promise.all(
        this.fold(scopes).map(async (scope) => {
          const { ready, covered } = this.request(scope, true)
          await ready
          await covered
        }),
      ),
    )
  }

  private request(scope: StampScope, wait: boolean): { ready: Promise<void>; covered: Promise<void> } {
    let state = this.states.get(scope)
    if (!state) {
      this.sweepIdle()
      state = { key: stampKey(this.prefix, scope), lastAttemptAt: -Infinity, dirty: false, writer: undefined, writerId: 0, writerStartedAt: 0, deadline: 0, pending: undefined, started: 0, settled: 0, waiters: [] }
      this.states.set(scope, state)
    }
    state.dirty = true
    // A new local token for every bump: fills made under the previous one predate this write.
    state.pending = `local-${newToken(this.clock())}`
    if (!this.retrying.has(scope)) this.pendingByKey.set(state.key, state.pending)
    // The next attempt to start covers this bump; one already under way does not.
    const target = state.started + 1
    const covered = wait ? new Promise<void>((resolve) => state.waiters.push({ target, resolve })) : Promise.resolve()
    const now = this.clock()
    // A running writer writes again after its current attempt, which covers this bump. One
    // past its deadline was cancelled (Workers end waitUntil work ~30 s after the response),
    // and one running for long is handed over, so the loop lives in a recent request.
    if (state.writer && now <= state.deadline && now - state.writerStartedAt < WRITER_HANDOVER_MS) {
      this.counters.count('stampsCoalesced', scope, undefined)
      return { ready: Promise.resolve(), covered }
    }
    let handedOff!: () => void
    const ready = new Promise<void>((resolve) => (handedOff = resolve))
    const id = ++state.writerId
    state.writerStartedAt = now
    state.deadline = now + this.writerGraceMs
    const writer = this.writeLoop(scope, state, id, handedOff).finally(handedOff)
    state.writer = writer
    // Through waitUntil on Workers: a trailing write must outlive the response.
    this.background.run(() => writer)
    return { ready, covered }
  }

  /**
   * Writes the stamp until no bump is left uncovered, one write per interval. `handedOff`
   * resolves the first caller: after the first attempt when it could go out at once, or as
   * soon as it has to wait. Stops when a newer writer took over.
   */
  private async writeLoop(scope: StampScope, state: ScopeState, id: number, handedOff: () => void): Promise<void> {
    let failures = 0
    try {
      while (state.dirty && state.writerId === id) {
        const spacing = state.lastAttemptAt + STAMP_WRITE_INTERVAL_MS - this.clock()
        const wait = Math.max(spacing, failures > 0 ? RETRY_BACKOFF_MS[failures - 1]! : 0)
        state.deadline = this.clock() + Math.max(0, wait) + this.writerGraceMs
        if (wait > 0) {
          handedOff()
          await this.sleep(wait)
          if (state.writerId !== id) return
        }
        // Every write that asked before this point has finished: this token covers them all.
        state.dirty = false
        state.lastAttemptAt = this.clock()
        const attempt = ++state.started
        const covered = state.pending
        if (failures > 0) this.counters.count('stampRetries', scope, undefined)
        if (await this.writeToken(scope, state.key, newToken(this.clock()))) {
          failures = 0
          this.retrying.delete(scope)
          this.failed.delete(scope)
          // KV now holds the new token; a bump asked for during the put keeps its local one.
          if (state.pending === covered) {
            state.pending = undefined
            this.pendingByKey.delete(state.key)
          } else if (state.pending !== undefined) this.pendingByKey.set(state.key, state.pending)
          this.settle(state, attempt)
        } else {
          state.dirty = true
          failures++
          // KV may be failing for a while: stop reading under the local token, bypass instead.
          this.retrying.add(scope)
          state.pending = undefined
          this.pendingByKey.delete(state.key)
          if (failures > RETRY_BACKOFF_MS.length) {
            state.dirty = false
            this.retrying.delete(scope)
            this.counters.count('stampFailures', scope, undefined)
            this.markFailed(scope)
            // Given up: nobody waits for a write that will not come.
            for (const waiter of state.waiters) waiter.resolve()
            state.waiters = []
            this.report(`could not write the invalidation stamp for ${scope} after ${failures} attempts; this isolate bypasses the cache for it until a write lands, other isolates may serve stale entries until their TTL`)
          }
        }
        handedOff()
      }
    } finally {
      // Synchronously with the loop's last check: a bump arriving after it starts a new writer.
      if (state.writerId === id) state.writer = undefined
    }
  }

  /** Resolves the waiters whose bump the attempt covered. */
  private settle(state: ScopeState, attempt: number): void {
    state.settled = Math.max(state.settled, attempt)
    if (state.waiters.length === 0) return
    const waiting: ScopeState['waiters'] = []
    for (const waiter of state.waiters) {
      if (waiter.target <= state.settled) waiter.resolve()
      else waiting.push(waiter)
    }
    state.waiters = waiting
  }

  private async writeToken(scope: StampScope, key: string, token: string): Promise<boolean> {
    const started = this.events?.enabled ? timerStart() : 0
    const ok = await this.kv.put(key, token)
    if (this.events?.enabled) this.events.emit({ type: 'stampWrite', scope, operation: 'stamp', ok, ms: elapsedSince(started) })
    if (!ok) return false
    this.counters.count('stampWrites', scope, undefined)
    this.recent.delete(key)
    this.recent.set(key, { token, at: this.clock() })
    // Oldest first: drop the excess so the map stays bounded.
    for (const old of this.recent.keys()) {
      if (this.recent.size <= MAX_RECENT) break
      this.recent.delete(old)
    }
    return true
  }

  /** Forgets idle scopes past the bound; their next bump simply goes out at once. */
  private sweepIdle(): void {
    if (this.states.size < MAX_IDLE_SCOPES) return
    const now = this.clock()
    for (const [scope, state] of this.states) {
      if (!state.writer && now - state.lastAttemptAt >= STAMP_WRITE_INTERVAL_MS) this.states.delete(scope)
    }
  }
}

function newToken(now: number): string {
  const bytes = new Uint8Array(9)
  crypto.getRandomValues(bytes)
  let random = ''
  for (const byte of bytes) random += byte.toString(36).padStart(2, '0')
  return `${now.toString(36)}-${random}`
}

/** When a token was written; -Infinity for a missing or foreign one. */
export function tokenTime(token: string | null | undefined): number {
  if (!token) return -Infinity
  const dash = token.indexOf('-')
  const at = dash > 0 ? parseInt(token.slice(0, dash), 36) : NaN
  return Number.isFinite(at) ? at : -Infinity
}
