import type { Scope } from '../keys.js'
import type { ReadOperation, ScopeRef } from '../operations.js'
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
}

/** After the lookup: go to the database without caching, or the signature an entry must carry. */
export type Judgement = { bypass: 'pending' | 'burst' } | { signature: string }

/** The scopes a write bumps: those its arguments name, and those only its result names. */
export interface WriteScopes {
  scopes: StampScope[]
  after: (result: unknown, threw: boolean) => StampScope[]
}

/**
 * How cached entries are made invalid (ARCHITECTURE.md, Invalidation strategies). The read
 * and write paths (read.ts, write.ts) ask it the questions below and keep no strategy state
 * of their own; each implementation owns its bookkeeping.
 */
export interface InvalidationStrategy {
  readonly kind: 'stamp' | 'prefix'

  // Reads
  /** The scopes a read depends on. */
  dependencies(operation: ReadOperation, ref: ScopeRef, scope: Scope, args: Args): Scope[]
  /** True while this isolate cannot tell which entries of these scopes are current. */
  unsettled(dependencies: readonly Scope[]): boolean
  beginRead(dependencies: readonly Scope[]): ReadTicket
  judge(ticket: ReadTicket, values: Map<string, string | null>): Judgement
  /** Whether an entry filled at `filledAt` under `stamps` may be served now. */
  serves(entry: { stamps: string; filledAt: number }, signature: string, ticket: ReadTicket): boolean
  /** Whether the database's answer may be stored under the ticket. */
  mayFill(ticket: ReadTicket): boolean
  /** When the youngest stamp the read saw was written, for the read-replica window. */
  youngestWrite(ticket: ReadTicket, values: Map<string, string | null>): number
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
