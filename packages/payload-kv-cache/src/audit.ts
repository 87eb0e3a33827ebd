import type { BackgroundWork } from './background.js'
import { differences, summarize } from './equality.js'
import type { AuditEvent } from './events.js'
import type { EventSink } from './events.js'
import { elapsedSince, shortKey, timerStart } from './events.js'
import { ownerOfStamp } from './invalidation/documents.js'
import { RefCounts } from './refcounts.js'
import type { Scope } from './keys.js'
import type { StampScope } from './invalidation/stamps.js'
import type { Counters } from './stats.js'

/** What one sampled hit needs for its audit. */
export interface AuditSample {
  scope: Scope
  operation: string
  key: string
  dependencies: readonly Scope[]
  /** `epochOf(dependencies)` taken before the entry was fetched from KV. */
  epoch: number
  /** The adapter's arguments, as the hit was served for them. */
  args: Record<string, unknown> & { req?: unknown }
  /** Calls the inner adapter's method. */
  call: (args: Record<string, unknown>) => unknown
  /** A second decoding of the entry: what was served, before Payload's hooks changed it. */
  served: () => unknown
}

/**
 * Audit mode: a sampled hit is read again from the database after it was served, and the two
 * compared strictly. A mismatch is a hit that did not equal the database: a write made behind
 * the wrapper's back, another isolate's write inside KV's propagation window, or a bug.
 *
 * Writes in this isolate are not mismatches: the hit was right when it was served, the
 * database moved on afterwards. Each write to a scope moves that scope's epoch when it
 * starts (and, inside a transaction, when it ends); an audit whose dependencies' epochs
 * moved between the KV fetch and the end of its database read, or with a transactional
 * write to them still running, is skipped, not compared.
 */
export class Auditor {
  private readonly epochs = new Map<StampScope, number>()
  /** Writes inside a transaction still running, by scope: they hold no stamp. */
  private readonly running = new RefCounts<StampScope>()

  constructor(
    private readonly sampleRate: number,
    private readonly random: () => number,
    private readonly counters: Counters,
    private readonly background: BackgroundWork,
    private readonly events: EventSink,
    private readonly report: (kind: string, message: string) => void,
  ) {}

  /** Called before a write to these scopes reaches the database. */
  writeStarted(scopes: Iterable<StampScope>): void {
    // Bounded: scopes come from the config, plus `*`. A document's stamp counts as its
    // collection's (documents are not bounded): an audit of one document is then skipped
    // for a write to any document of it, which only costs a comparison.
    for (const scope of owners(scopes)) this.epochs.set(scope, (this.epochs.get(scope) ?? 0) + 1)
  }

  /**
   * For a write inside a transaction, which holds no stamp while it runs (a late one can
   * land on the plain connection). Moves the epochs when it starts and when it ends, and
   * audits of its scopes are skipped while it runs.
   */
  writing(written: readonly StampScope[]): () => void {
    const scopes = owners(written)
    this.writeStarted(scopes)
    const release = this.running.hold(scopes)
    return () => {
      release()
      this.writeStarted(scopes)
    }
  }

  private isWriting(dependencies: readonly Scope[]): boolean {
    if (this.running.size === 0) return false
    return this.running.has('*') || dependencies.some((scope) => this.running.has(ownerOfStamp(scope) as StampScope))
  }

  epochOf(dependencies: readonly Scope[]): number {
    if (this.epochs.size === 0) return 0
    let sum = this.epochs.get('*') ?? 0
    for (const scope of owners(dependencies)) sum += this.epochs.get(scope) ?? 0
    return sum
  }

  sample(): boolean {
    return this.random() < this.sampleRate
  }

  /**
   * Copies the arguments now (Payload may change them once the hit is returned), then runs
   * the comparison in the background: through `waitUntil` when given, else tracked by
   * `settled()`.
   */
  schedule(sample: AuditSample): void {
    const args = copyArguments(sample.args) as AuditSample['args']
    const req = sample.args.req
    // Audits never run inside a transaction: the hit was served outside one (reads in live
    // transactions bypass the cache), and its database read must not join one begun since.
    if (req !== null && typeof req === 'object')
      args.req = Object.create(req, { transactionID: { value: undefined, enumerable: true } }) as unknown
    this.background.run(async () => {
      // A macrotask: the caller's own continuation (Payload's afterRead hooks) runs first, so
      // the audit adds no latency to the hit it checks.
      await new Promise<void>((resolve) => setTimeout(resolve, 0))
      await this.audit(sample, args)
    })
  }

  private async audit(sample: AuditSample, args: Record<string, unknown>): Promise<void> {
    const { scope, operation } = sample
    const started = timerStart()
    let database: unknown
    try {
      database = await sample.call(args)
    } catch (error) {
      this.counters.count('auditErrors', scope, operation)
      this.emit(sample, 'error', started)
      this.report(
        `audit-error:${scope}:${operation}`,
        `audit: the database read of a sampled ${operation} of ${scope} threw: ${error instanceof Error ? error.message : String(error)}`,
      )
      return
    }
    if (this.epochOf(sample.dependencies) !== sample.epoch || this.isWriting(sample.dependencies)) {
      this.counters.count('auditsSkipped', scope, operation)
      this.emit(sample, 'skipped', started)
      return
    }
    this.counters.count('audits', scope, operation)
    const found = differences(sample.served(), database)
    if (found.length === 0) {
      this.emit(sample, 'match', started)
      return
    }
    this.counters.count('auditMismatches', scope, operation)
    const diff = summarize(found)
    this.emit(sample, 'mismatch', started, diff)
    this.report(
      `audit:${scope}:${operation}`,
      `audit: a cached ${operation} of ${scope} (key ${shortKey(sample.key)}) differed from the database: ${diff}. Was it written outside Payload (call kvCache.invalidate()), or by another isolate within KV's propagation window?`,
    )
  }

  private emit(sample: AuditSample, result: AuditEvent['result'], started: number, diff?: string): void {
    if (!this.events.enabled) return
    const event: AuditEvent = {
      type: 'audit',
      scope: sample.scope,
      operation: sample.operation,
      key: shortKey(sample.key),
      ms: elapsedSince(started),
      result,
    }
    if (diff !== undefined) event.diff = diff
    this.events.emit(event)
  }
}

/** The collections (and globals, and `*`) of some stamps, each once. */
function owners(scopes: Iterable<StampScope>): StampScope[] {
  return [...new Set([...scopes].map((scope) => ownerOfStamp(scope) as StampScope))]
}

/**
 * A structural copy of plain objects and arrays (keys set to undefined kept); Dates copied;
 * anything else (ObjectId, RegExp, Buffers in a Mongo `where`) kept by reference, as such
 * values are not edited in place.
 */
function copyArguments(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > 64) return value
  if (Array.isArray(value)) return value.map((item) => copyArguments(item, depth + 1))
  if (value instanceof Date) return new Date(value.getTime())
  const proto = Object.getPrototypeOf(value) as object | null
  if (proto !== Object.prototype && proto !== null) return value
  const out = Object.create(proto) as Record<string, unknown>
  for (const key of Object.keys(value)) {
    // `req` is Payload's request: not data, and far too large to copy.
    const item = (value as Record<string, unknown>)[key]
    if (depth === 0 && key === 'req') continue
    if (key === '__proto__')
      Object.defineProperty(out, key, { value: copyArguments(item, depth + 1), writable: true, enumerable: true, configurable: true })
    else out[key] = copyArguments(item, depth + 1)
  }
  return out
}
