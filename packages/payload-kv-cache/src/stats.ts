import { ownerOfStamp } from './invalidation/documents.js'
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
  /** Results not written, for any reason (split by reason in `breakdown()`): too large, not encodable, raced a write, replica window. */
  fillSkips: number
  /**
   * Reads sent straight to the database without looking in KV, for any reason (split by
   * reason in `breakdown()`): excluded, in a transaction, asked for, a write pending, unkeyable.
   */
  bypasses: number
  /** Scopes invalidated by writes (counted once per scope per write). */
  invalidations: number
  /** Calls of adapter methods this version does not know (a newer Payload's, a custom adapter's): each invalidated everything. */
  unknownCalls: number
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
  /** Audit mode: sampled hits compared with a database read made after serving them. */
  audits: number
  /** Audit mode: compared hits that differed from the database. Each one is logged at warn. */
  auditMismatches: number
  /** Audit mode: sampled hits not compared because a write in this isolate to a dependency started meanwhile. */
  auditsSkipped: number
  /** Audit mode: sampled hits whose database read threw, or whose arguments could not be copied. */
  auditErrors: number
}

/**
 * Why reads were bypassed and fills skipped. Kept out of `stats()`, whose shape callers
 * compare whole; `breakdown()` carries them.
 */
export interface ReasonCounters {
  /** Not written: the entry would exceed KV's 25 MiB value limit. */
  fillSkipsTooLarge: number
  /** Not written: the result holds values the codec cannot round-trip (class instances, Buffers, Maps). */
  fillSkipsUncacheable: number
  /** Not written: a write to a dependency started while the database was read (prefix strategy), or a list member was written after the query began (members.ts). */
  fillSkipsRace: number
  /** Not written: read within the read-replica window after a stamp changed. */
  fillSkipsReplica: number
  /** Not written: a list's documents have ids no document stamp can name, or KV failed to give their stamps. */
  fillSkipsMembers: number
  /** List reads (`find`, `count`, `findDistinct`) made precise: they survive edits that cannot change them (README, Consistency). */
  listsPrecise: number
  /** Of the precise lists, those that depend on the partition of a value their `where` requires (`category = X`): creates, deletes and moves elsewhere leave them be. */
  listsByValue: number
  /** Of the precise lists, those whose `where` pins them to named ids (relationship population's `id in [...]`): they depend on those documents' stamps alone, whatever their page size. */
  listsPinned: number
  /** `find`s stored as complete answers (every match on the page): they depend on no stamp of a field they only sort on. */
  listsComplete: number
  /** List reads kept to the collection stamp: a path follows a relationship or join into other rows. */
  listFallbacksTraversal: number
  /** List reads kept to the collection stamp: a path starts at a virtual field, a join or a name the config does not have. */
  listFallbacksField: number
  /** `find`s kept to the collection stamp: no page size, or more documents than one bulk get can check with the entry. */
  listFallbacksPageSize: number
  /** `queryDrafts` reads pinned to no parent: they keep to the collection stamp. */
  listFallbacksVersions: number
  /** Versions reads (`findVersions`, `countVersions`, `queryDrafts`) pinned to parents: they depend on those documents' versions stamps alone (README, *What a versions read depends on*). */
  versionsPrecise: number
  /** Database reads of a row before an update (list precision), inside the write's transaction. */
  beforeImages: number
  /** Before images that threw: the update bumped membership instead. */
  beforeImagesFailed: number
  /** Updates that bumped membership (every list of the collection) instead of field stamps: no before image, overlapping updates, too many fields changed, or a write that threw. */
  membershipBumps: number
  /** Writes that bumped every partitioned list of the collection (its unknown partition stamp): an upsert, a delete or update whose before image is not trusted, or a value the partitions cannot spell. */
  unknownPartitionBumps: number
  /** Bypassed: the collection, global or operation is not cached (default exclusion or options). */
  bypassesExcluded: number
  /** Bypassed: the read ran inside a live transaction. */
  bypassesTransaction: number
  /** Bypassed: asked for by `req.context.kvCache.bypass` or `kvCache.run({ bypass: true })`. */
  bypassesRequested: number
  /** Bypassed: a write to a dependency is in flight, its stamp or purge has not landed, or KV still shows an older stamp. */
  bypassesPending: number
  /** Bypassed: another isolate is writing a dependency faster than KV takes its stamp (a burst horizon is open). */
  bypassesBurst: number
  /** Bypassed: the arguments cannot be keyed (a value the canonical form refuses, a key over 512 bytes). */
  bypassesUnkeyable: number
  /** Bypassed: a strong read whose Durable Object failed or was slower than `kvTimeoutMs`, or asked for with no `strongStamps` binding. */
  bypassesStrong: number
  /** Bypassed: the request has spent most of the KV operations Workers allow one invocation; the rest is kept for its stamp writes. */
  bypassesBudget: number
  /** Bumps returned on a burst horizon once a read made after them found it still in KV (README, *Write bursts*). */
  stampsVerified: number
  /** Document and partition stamps bumped as their collection's bulk or unknown partition stamp: past 20 a second or a request, or once the request has spent half its KV operations. */
  stampsFolded: number
  /** Durable Object calls made to read strong stamps: one per collection or global a strong read depends on. */
  strongReads: number
  /** Durable Object calls made to bump stamps after writes (retries included). */
  strongBumps: number
  /** Bumps given up after their retries: other locations see that write within KV's window instead. */
  strongFailures: number
}

/** Every counter: `stats()`'s plus the reasons. */
export type DetailedStats = CacheStats & ReasonCounters

export type CounterName = keyof DetailedStats

/** Why a read went straight to the database; each reason has its own `bypasses*` counter. */
export type BypassReason = 'excluded' | 'transaction' | 'requested' | 'pending' | 'burst' | 'unkeyable' | 'strong' | 'budget'

/** Why a result was not written to KV; each reason has its own `fillSkips*` counter. */
export type FillSkipReason = 'tooLarge' | 'uncacheable' | 'race' | 'replica' | 'members'

export const BYPASS_COUNTERS: Readonly<Record<BypassReason, CounterName>> = {
  excluded: 'bypassesExcluded',
  transaction: 'bypassesTransaction',
  requested: 'bypassesRequested',
  pending: 'bypassesPending',
  burst: 'bypassesBurst',
  unkeyable: 'bypassesUnkeyable',
  strong: 'bypassesStrong',
  budget: 'bypassesBudget',
}

export const FILL_SKIP_COUNTERS: Readonly<Record<FillSkipReason, CounterName>> = {
  tooLarge: 'fillSkipsTooLarge',
  uncacheable: 'fillSkipsUncacheable',
  race: 'fillSkipsRace',
  replica: 'fillSkipsReplica',
  members: 'fillSkipsMembers',
}

/**
 * Every counter, in total and split by scope (`c:<slug>`, `g:<slug>`, or `*` for flush-all)
 * and by operation (the adapter method; `invalidate`, `purge` for the handle's calls). In
 * the splits only counters that moved appear. Stamp counters have no operation (one stamp
 * write can cover several writes), purge and KV list/delete counters neither scope nor
 * operation: those appear in `totals` only.
 */
export interface CacheStatsBreakdown {
  totals: DetailedStats
  byScope: Record<string, Partial<DetailedStats>>
  byOperation: Record<string, Partial<DetailedStats>>
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
    unknownCalls: 0,
    stampWrites: 0,
    stampsCoalesced: 0,
    stampRetries: 0,
    stampFailures: 0,
    entriesDeleted: 0,
    purgesDeferred: 0,
    purgeErrors: 0,
    kvErrors: 0,
    timeouts: 0,
    audits: 0,
    auditMismatches: 0,
    auditsSkipped: 0,
    auditErrors: 0,
  }
}

function emptyDetailedStats(): DetailedStats {
  return {
    ...emptyStats(),
    fillSkipsTooLarge: 0,
    fillSkipsUncacheable: 0,
    fillSkipsRace: 0,
    fillSkipsReplica: 0,
    fillSkipsMembers: 0,
    listsPrecise: 0,
    listsByValue: 0,
    listsPinned: 0,
    listsComplete: 0,
    listFallbacksTraversal: 0,
    listFallbacksField: 0,
    listFallbacksPageSize: 0,
    listFallbacksVersions: 0,
    versionsPrecise: 0,
    beforeImages: 0,
    beforeImagesFailed: 0,
    membershipBumps: 0,
    unknownPartitionBumps: 0,
    bypassesExcluded: 0,
    bypassesTransaction: 0,
    bypassesRequested: 0,
    bypassesPending: 0,
    bypassesBurst: 0,
    bypassesUnkeyable: 0,
    bypassesStrong: 0,
    bypassesBudget: 0,
    stampsVerified: 0,
    stampsFolded: 0,
    strongReads: 0,
    strongBumps: 0,
    strongFailures: 0,
  }
}

const STATS_KEYS = Object.keys(emptyStats()) as Array<keyof CacheStats>

/**
 * Scopes and operations come from the config and the operation table, so the breakdown is
 * finite; this bound only guards against a caller passing slugs the config does not have.
 */
const MAX_BREAKDOWN_KEYS = 1000
const OVERFLOW = '(other)'

/** The totals, plus the same counters by scope and by operation. */
export class Counters {
  readonly totals: DetailedStats = emptyDetailedStats()
  private readonly scopes = new Map<string, Partial<DetailedStats>>()
  private readonly operations = new Map<string, Partial<DetailedStats>>()

  /** Counts in the totals and, where given, under the scope and the operation. */
  count(name: CounterName, scope: string | undefined, operation: string | undefined, by = 1): void {
    this.totals[name] += by
    this.attribute(name, scope, operation, by)
  }

  /** Counts under the scope and operation only: for counters whose total is kept elsewhere. */
  attribute(name: CounterName, scope: string | undefined, operation: string | undefined, by = 1): void {
    // A document's or bulk stamp (`c:posts#=12`) counts under its collection: bounded by the config.
    if (scope !== undefined) add(bucket(this.scopes, ownerOfStamp(scope)), name, by)
    if (operation !== undefined) add(bucket(this.operations, operation), name, by)
  }

  /** The totals without the reasons: what `kvCache.stats()` returns. */
  stats(): CacheStats {
    const out = {} as CacheStats
    for (const name of STATS_KEYS) out[name] = this.totals[name]
    return out
  }

  breakdown(): CacheStatsBreakdown {
    return { totals: { ...this.totals }, byScope: copy(this.scopes), byOperation: copy(this.operations) }
  }
}

function bucket(map: Map<string, Partial<DetailedStats>>, name: string): Partial<DetailedStats> {
  let counters = map.get(name)
  if (counters) return counters
  const key = map.size >= MAX_BREAKDOWN_KEYS ? OVERFLOW : name
  counters = map.get(key) ?? {}
  map.set(key, counters)
  return counters
}

function add(counters: Partial<DetailedStats>, name: CounterName, by: number): void {
  counters[name] = (counters[name] ?? 0) + by
}

function copy(map: Map<string, Partial<DetailedStats>>): Record<string, Partial<DetailedStats>> {
  const out: Record<string, Partial<DetailedStats>> = {}
  for (const [name, counters] of map) out[name] = { ...counters }
  return out
}
