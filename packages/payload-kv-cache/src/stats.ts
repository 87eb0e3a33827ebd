/** Per-isolate counters. A snapshot is a plain object, safe to log or export. */
export interface CacheStats {
  /** Reads answered from KV. */
  hits: number
  /** Reads that found no entry. */
  misses: number
  /** Entries found but filled under an older stamp, or past their logical expiry. */
  stale: number
  /** Entries in a format this version does not read (another version, corrupted). */
  malformed: number
  /** Misses answered by an identical miss already on its way to the database (single-flight). */
  coalesced: number
  /** Entries written. */
  fills: number
  /** Results not written: too large, or holding values the codec cannot round-trip. */
  fillSkips: number
  /** Reads sent straight to the database: excluded scope, live transaction, bypass, pending invalidation. */
  bypasses: number
  /** Scopes invalidated by writes (counted once per scope per write). */
  invalidations: number
  /** Stamp tokens written to KV. */
  stampWrites: number
  /** Bumps folded into a stamp write already due (KV takes one write per second per key). */
  stampsCoalesced: number
  /** Stamp writes tried again after KV refused one (a 429, an error, a timeout). */
  stampRetries: number
  /** Stamp writes given up after their retries: reported, and the scope bypassed in this isolate. */
  stampFailures: number
  /** Entries deleted by the prefix strategy and `purge()`. */
  entriesDeleted: number
  /** Purges that ran past their KV operation budget and finished in the background. */
  purgesDeferred: number
  /** Lists and deletes of a purge that failed (their entries stay until TTL). */
  purgeErrors: number
  /** KV calls that threw. */
  kvErrors: number
  /** KV reads abandoned for the database after `kvTimeoutMs`. */
  timeouts: number
}

export function emptyStats(): CacheStats {
  return {
    hits: 0,
    misses: 0,
    stale: 0,
    malformed: 0,
    coalesced: 0,
    fills: 0,
    fillSkips: 0,
    bypasses: 0,
    invalidations: 0,
    stampWrites: 0,
    stampsCoalesced: 0,
    stampRetries: 0,
    stampFailures: 0,
    entriesDeleted: 0,
    purgesDeferred: 0,
    purgeErrors: 0,
    kvErrors: 0,
    timeouts: 0,
  }
}
