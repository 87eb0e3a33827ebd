import type { BypassReason, FillSkipReason } from './stats.js'

/** What every event carries. */
interface EventBase {
  /** `c:<slug>`, `g:<slug>`, or `*` (flush-all). */
  scope: string
  /** The adapter method (`find`, `updateOne`, `commitTransaction`...), or `invalidate` / `purge` for the handle's calls. */
  operation: string
  /** Milliseconds the step took (the whole read for read outcomes; the KV put for fills). */
  ms: number
}

/** The outcome of one cached read (one event per read). */
export interface ReadEvent extends EventBase {
  type: 'hit' | 'miss' | 'stale' | 'malformed' | 'coalesced'
  /** A short digest of the entry's key: the same read gives the same digest. */
  key: string
}

export interface BypassEvent extends EventBase {
  type: 'bypass'
  reason: BypassReason
}

/** KV failed or was too slow on a read (`get`) or a fill (`put`); the read went to the database. */
export interface KVFailureEvent extends EventBase {
  type: 'kvError' | 'timeout'
  what: 'get' | 'put'
  key: string
}

export interface FillEvent extends EventBase {
  type: 'fill'
  key: string
}

export interface FillSkipEvent extends EventBase {
  type: 'fillSkip'
  reason: FillSkipReason
  key: string
}

/** A write (or the handle) invalidated a scope: one event per scope. */
export interface InvalidationEvent extends EventBase {
  type: 'invalidation'
}

/** A stamp token put to KV (`ok: false` when the put failed and will be retried or given up). */
export interface StampWriteEvent extends EventBase {
  type: 'stampWrite'
  ok: boolean
}

/** Audit mode: a sampled hit compared with a database read made after it was served. */
export interface AuditEvent extends EventBase {
  type: 'audit'
  /** `skipped`: a write to a dependency started in this isolate meanwhile; `error`: the database read threw. */
  result: 'match' | 'mismatch' | 'skipped' | 'error'
  key: string
  /** For a mismatch: the first differing paths, with short previews of both values. */
  diff?: string
}

export type CacheEvent =
  ReadEvent | BypassEvent | KVFailureEvent | FillEvent | FillSkipEvent | InvalidationEvent | StampWriteEvent | AuditEvent

export type CacheEventType = CacheEvent['type']

interface DebugLogger {
  debug?: (message: string) => void
}

/**
 * Where events go: a debug line each through Payload's logger, and the `onEvent` hook. Call
 * sites check `enabled` before building an event, so that with both off a read allocates
 * nothing for them.
 */
export class EventSink {
  readonly enabled: boolean
  constructor(
    private readonly debug: boolean,
    private readonly onEvent: ((event: CacheEvent) => void) | undefined,
    private readonly logger: DebugLogger | undefined,
    private readonly report: (kind: string, message: string) => void,
  ) {
    this.enabled = debug || onEvent !== undefined
  }

  emit(event: CacheEvent): void {
    if (this.debug) this.logger?.debug?.(`payload-kv-cache: ${describeEvent(event)}`)
    if (!this.onEvent) return
    try {
      this.onEvent(event)
    } catch (error) {
      // A broken metrics hook must not fail reads; `report` logs it at most every 10 s.
      this.report('onEvent', `the onEvent hook threw: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
}

/** One line: `hit c:posts find key=Ab3dE9xQ 0.8ms`. */
export function describeEvent(event: CacheEvent): string {
  let line = `${event.type} ${event.scope} ${event.operation}`
  if ('key' in event) line += ` key=${event.key}`
  if ('reason' in event) line += ` reason=${event.reason}`
  if ('what' in event) line += ` kv=${event.what}`
  if ('ok' in event) line += ` ok=${event.ok}`
  if ('result' in event) line += ` result=${event.result}`
  line += ` ${event.ms.toFixed(1)}ms`
  if ('diff' in event && event.diff) line += ` diff: ${event.diff}`
  return line
}

/** The short key digest events carry: the key's digest part, cut to 10 characters. */
export function shortKey(key: string): string {
  return key.slice(key.lastIndexOf(':') + 1, key.lastIndexOf(':') + 11)
}

const performanceClock = (globalThis as { performance?: { now(): number } }).performance
const clock: { now(): number } = typeof performanceClock?.now === 'function' ? performanceClock : Date

/** A monotonic clock for event timings (workerd advances it only across I/O, which is what we time). */
export function elapsedSince(start: number): number {
  return clock.now() - start
}

export function timerStart(): number {
  return clock.now()
}
