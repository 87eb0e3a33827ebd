import type { Scope } from '../keys.js'
import type { ReadOperation, ScopeRef } from '../operations.js'
import type { FillSkipReason } from '../stats.js'
import type { StampScope } from './stamps.js'

/** `req.transactionID` as Payload sets it: an id, or the Promise `beginTransaction` returned. */
export type TransactionIDLike = number | string | null | Promise<number | string | null>

/** The arguments of an adapter call, as the wrapper hands them over. */
export type Args = Record<string, unknown> & { req?: { transactionID?: TransactionIDLike; context?: unknown } }

/** What a read carries from its KV lookup to its fill. */
export interface ReadTicket {
  /** The dependencies it was looked up under. */
  readonly dependencies: readonly Scope[]
  /** Keys fetched with the entry in the same bulk `get` (the stamp strategy's slots). */
  readonly keys: readonly string[]
  /** Prefix strategy: the writes this isolate had started when the lookup began. */
  readonly epoch: number
  /**
   * Added to the single-flight key: misses share one database call only when they agree on
   * it. A precise `find`'s signature leaves out its members (known after the query), so it
   * carries how many document writes this isolate had started: a read that begins after a
   * write to a member never joins a call that read the old row (README guarantee 2).
   */
  readonly flight?: string
  /** A strong read (README, Strong consistency): its Durable Object tokens, asked for with the KV lookup. */
  readonly strong?: Promise<string | undefined>
}

/** After the lookup: go to the database without caching, or the signature an entry must carry. */
export type Judgement = { bypass: 'pending' | 'burst' | 'strong' } | { signature: string }

/**
 * After the database answered: the stamps to store the entry under (and when the youngest
 * of them was written, for the read-replica window), or why it must not be stored.
 */
export type FillDecision = { signature: string; youngestWrite?: number } | { skip: FillSkipReason }

/**
 * The scopes a write bumps: those its arguments name, and those only its result names.
 * `before`, when given, runs just before the write, in its transaction (list precision reads
 * the row as it was); it never throws.
 */
export interface WriteScopes {
  scopes: StampScope[]
  before?: (inTransaction: boolean) => Promise<void>
  after: (result: unknown, threw: boolean) => StampScope[]
}

/**
 * How cached entries are made invalid (ARCHITECTURE.md, Invalidation strategies). The read
 * and write paths (read.ts, write.ts) ask it the questions below and keep no strategy state
 * of their own; each implementation owns its bookkeeping.
 */
export interface InvalidationStrategy<Ticket extends ReadTicket = ReadTicket> {
  readonly kind: 'stamp' | 'prefix'
  /** Whether it can serve strong reads (a `strongStamps` binding; stamp strategy only). */
  readonly strong: boolean

  // Reads
  /** The scopes a read depends on; a strong read's are whole collections and globals. */
  dependencies(operation: ReadOperation, ref: ScopeRef, scope: Scope, args: Args, strong: boolean): Scope[]
  /** True while this isolate cannot tell which entries of these scopes are current. */
  unsettled(dependencies: readonly Scope[]): boolean
  /** The read of the entry at `key`, about to be looked up. */
  beginRead(operation: ReadOperation, scope: Scope, dependencies: readonly Scope[], key: string, strong: boolean): Ticket
  /** A strong read's answer waits for its Durable Object tokens (the promise). */
  judge(ticket: Ticket, values: Map<string, string | null>): Judgement | Promise<Judgement>
  /**
   * Whether an entry filled at `filledAt` under `stamps` may be served now. A list entry whose
   * members this isolate has not seen yet costs one more bulk `get` (the promise).
   */
  serves(
    entry: { stamps: string; filledAt: number },
    signature: string,
    ticket: Ticket,
    values: Map<string, string | null>,
  ): boolean | Promise<boolean>
  /** What the database's answer may be stored under, if anything. */
  fill(ticket: Ticket, signature: string, result: unknown): FillDecision | Promise<FillDecision>
  /** When the youngest stamp the read saw was written, for the read-replica window. */
  youngestWrite(ticket: Ticket, values: Map<string, string | null>): number
  /** A fill on its way to KV: the prefix strategy lets it land before it lists. */
  trackFill(fill: Promise<void>): void

  // Writes
  /** Adds the finer scopes a write bumps (documents, bulk) to the collections it affects. */
  writeScopes(operation: string, own: Scope | undefined, affected: StampScope[], args: Args): WriteScopes
  /** Adds what `kvCache.invalidate()` must bump besides the scopes it names. */
  expandInvalidation(scopes: StampScope[]): StampScope[]
  /** Marks scopes as being written (reads in this isolate bypass them); returns the release. */
  hold(scopes: Iterable<StampScope>): () => void
  /** A write to these scopes starts. */
  writeStarted(scopes: readonly StampScope[]): void
  /** After a write: invalidates, then calls `release` once reads may trust KV again. */
  invalidateAfterWrite(scopes: readonly StampScope[], release: () => void): Promise<void>
  /** `kvCache.invalidate()`: resolves once the scopes are invalid everywhere this isolate can tell. */
  invalidate(scopes: readonly StampScope[]): Promise<void>
  /** Deletes the scopes' entries (after invalidating them). */
  purge(scopes: readonly StampScope[]): Promise<void>

  /** Per-isolate state, map by map (each bounded). */
  footprint(): Record<string, number>
  /** After a config change. */
  configure(): void
}
