/*
 * The options' public types, and their resolution at config time. What each option accepts,
 * defaults to and means is declared once, in the spec table (option-spec.ts): the option names,
 * the checks and `ResolvedOptions` come from it. `KVCacheOptions` is written out for its JSDoc;
 * option-spec.ts fails to compile when the two disagree.
 */
import type { CacheEvent } from './events.js'
import type { DurableObjectNamespaceLike } from './invalidation/strong-stamps.js'
import type { KVNamespaceLike } from './kv.js'
import { isKVNamespace } from './kv.js'
import { describe, KVCacheConfigError } from './option-checks.js'
import type { OptionName, OptionSpec } from './option-spec.js'
import { OPTION_SPEC } from './option-spec.js'
import type { ReadOperation } from './operations.js'

export { KVCacheConfigError } from './option-checks.js'

/** Per-operation settings: `false` turns caching of that operation off. */
export type OperationSetting = boolean | { ttl?: number }

export type OperationSettings = Partial<Record<ReadOperation, OperationSetting>>

/**
 * How soon a committed write is seen in other locations: `'eventual'` within KV's window
 * (README, guarantee 1), `'strong'` by the next read everywhere (stamps in a Durable Object,
 * `strongStamps`).
 */
export type Consistency = 'eventual' | 'strong'

/** Per collection or global: `false` never caches it, `true` opts a default exclusion in. */
export type ScopeSetting = boolean | { ttl?: number; operations?: OperationSettings; consistency?: Consistency }

/** What a custom `key` function receives. */
export interface KeyInput {
  operation: ReadOperation
  /** `collection` or `global`. */
  kind: 'collection' | 'global'
  slug: string
  /** The adapter's arguments without `req`. */
  args: Record<string, unknown>
  /** The digest the library would use. */
  defaultDigest: string
}

/** Per request, through `req.context.kvCache` or `kvCache.run(control, fn)`. */
export interface CacheControl {
  /** Neither read nor fill the cache. */
  bypass?: boolean
  /** Skip the lookup but fill with the fresh result. */
  refresh?: boolean
  /** TTL in seconds for entries filled by this request. */
  ttl?: number
  /** `'strong'`: this request's reads see every committed write, as strong scopes' do (needs `strongStamps`). */
  consistency?: Consistency
}

export interface KVCacheOptions {
  /** The KV namespace, or a function returning it (Workers bindings can be per request). */
  kv: KVNamespaceLike | (() => KVNamespaceLike)
  /** Seconds an entry lives. Default 300. Under 60 s is honoured by a logical expiry. */
  ttl?: number
  /** Per read operation, for every collection and global. */
  operations?: OperationSettings
  /** Per collection: `false`, `true`, or `{ ttl, operations }`. */
  collections?: Record<string, ScopeSetting>
  /** Per global: `false`, `true`, or `{ ttl, operations }`. */
  globals?: Record<string, ScopeSetting>
  /**
   * Replaces the argument digest. The scope part of the key is always kept, so invalidation
   * still reaches the entry. Must return a non-empty string.
   */
  key?: (input: KeyInput) => string
  /** Key namespace, so several sites can share one KV namespace. Default `pkc`. */
  prefix?: string
  /**
   * `'stamp'` (default): a write puts one token per affected collection, O(1) KV writes.
   * `'prefix'`: a write lists and deletes the affected entries, one KV operation each; frees
   * storage at once, but cannot stop a fill racing a write in another isolate.
   */
  invalidation?: 'stamp' | 'prefix'
  /**
   * Stamp strategy: a `findOne` by id (Payload's `findByID`) that follows no relationship
   * depends on its document's stamp, so editing one document leaves the others' cached
   * reads valid. Costs one more stamp write per single-document write. Default true.
   */
  documentStamps?: boolean
  /**
   * Stamp strategy with `documentStamps`: a `find`, `count` or `findDistinct` that reads its
   * own collection's rows only depends on the fields it filters and sorts on, on creates and
   * deletes, and (a `find`) on the documents it returned, so an edit that cannot change a
   * list leaves it cached. Costs one database read (the row before the write) per
   * single-document update. Off with a custom `key`. Default true.
   */
  listPrecision?: boolean
  /**
   * The Durable Object namespace binding of `KVCacheStamps` (`payload-kv-cache/durable-object`),
   * or a function returning it: where the stamps of strong scopes are kept (README, Strong
   * consistency). With it every write also bumps its scopes there. Stamp strategy only.
   */
  strongStamps?: DurableObjectNamespaceLike | (() => DurableObjectNamespaceLike)
  /**
   * KV operations (list pages and deletes) one invalidation makes before the caller goes on;
   * the rest finish in the background (through `waitUntil`). Workers allow 1,000 KV
   * operations per invocation. Default 500.
   */
  purgeBudget?: number
  /** Workers' `ctx.waitUntil`: fills run through it instead of being tracked in memory. */
  waitUntil?: (promise: Promise<unknown>) => void
  /** A KV read slower than this (ms) is abandoned for the database. Default 1000. */
  kvTimeoutMs?: number
  /**
   * Identical misses in one isolate wait for the first one's database call instead of
   * making their own, up to this many ms (then they make their own). Default 5000; 0 turns
   * it off.
   */
  coalesceWaitMs?: number
  /**
   * Logs one line per cache event (hit, miss, fill, bypass, invalidation, stamp write,
   * audit...) at debug level through `payload.logger`, with scope, operation, a short key
   * digest and timing. Default false. Payload's logger prints debug lines only at level
   * `debug`.
   */
  debug?: boolean
  /** Called with every cache event, for metrics systems. Keep it cheap: it runs on the read path. */
  onEvent?: (event: CacheEvent) => void
  /**
   * Audit mode: a share of hits is also read from the database after being served, and
   * compared strictly; mismatches are counted and logged at warn. Off by default.
   */
  audit?: AuditOptions | false
}

/** Audit mode. `sampleRate: 1` audits every hit (tests, staging); production takes a small rate. */
export interface AuditOptions {
  /** Share of hits audited, from 0 to 1. */
  sampleRate: number
}

/** A clock under a test's control. */
export interface KVCacheClock {
  /** Milliseconds since the epoch. */
  now(): number
  /** Resolves once `ms` milliseconds have passed on this clock. */
  sleep(ms: number): Promise<void>
}

/**
 * Knobs for tests and benchmarks, kept out of `KVCacheOptions` so that applications never see
 * them; set through `withTestHooks` (`payload-kv-cache/internals`).
 */
export interface TestHooks {
  /**
   * Time: `() => ms` replaces `Date.now`; `{ now, sleep }` also replaces the timer that spaces
   * stamp writes, so a test can move time instead of waiting for it.
   */
  clock?: (() => number) | KVCacheClock
  /** Random numbers in [0, 1) deciding which hits audit mode samples. Default `Math.random`. */
  random?: () => number
}

// Symbol.for: the tests import the sources and the bench the build; both must find the hooks.
const TEST_HOOKS = Symbol.for('payload-kv-cache.testHooks')

/** `options` with test hooks attached, on a symbol key that no options type declares. */
export function withTestHooks<T extends object>(options: T, hooks: TestHooks): T {
  return { ...options, [TEST_HOOKS]: hooks }
}

/** Each option as its spec resolves it. */
type FromSpec = { [K in OptionName]: ReturnType<(typeof OPTION_SPEC)[K]['resolve']> }

/** What the engine reads: every option checked and defaulted by its spec, plus the test hooks. */
export type ResolvedOptions = Readonly<Omit<FromSpec, 'audit'>> & {
  readonly clock: () => number
  readonly sleep: (ms: number) => Promise<void>
  /** Undefined when audit mode is off (also for a sample rate of 0). */
  readonly audit: { sampleRate: number; random: () => number } | undefined
}

const OPTION_NAMES = Object.keys(OPTION_SPEC) as OptionName[]
const KNOWN_OPTIONS: ReadonlySet<string> = new Set(OPTION_NAMES)

/** Validates options at config time, so a mistake fails the build, not a request. */
export function resolveOptions(input: KVNamespaceLike | KVCacheOptions | undefined): ResolvedOptions {
  if (input === undefined || input === null) {
    throw new KVCacheConfigError('kv', 'is missing', 'Pass your KV binding: `withKVCache(adapter, { kv: env.CACHE })`.')
  }
  const options: KVCacheOptions = isKVNamespace(input) ? { kv: input } : input
  if (typeof options !== 'object') {
    throw new KVCacheConfigError(
      'kv',
      `must be a KV namespace or an options object (got ${describe(options)})`,
      'Pass `{ kv: env.CACHE }`.',
    )
  }
  for (const name of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(name)) {
      throw new KVCacheConfigError(name, 'is not an option', `Known options: ${OPTION_NAMES.join(', ')}.`)
    }
  }
  const given = options as unknown as Record<string, unknown>
  const resolved: Record<string, unknown> = {}
  for (const name of OPTION_NAMES) {
    // Each entry's check and resolve agree on their type; the loop sees them all as one.
    const spec = OPTION_SPEC[name] as OptionSpec<unknown, unknown>
    const value = given[name]
    resolved[name] = spec.resolve(value === undefined ? undefined : spec.check(value))
  }
  const fromSpec = resolved as FromSpec
  checkStrongScopes(fromSpec)
  const { clock, random } = checkTestHooks((options as { [TEST_HOOKS]?: unknown })[TEST_HOOKS])
  return {
    ...fromSpec,
    clock: clock === undefined ? Date.now : typeof clock === 'function' ? clock : () => clock.now(),
    sleep: clock !== undefined && typeof clock === 'object' ? (ms) => clock.sleep(ms) : realSleep,
    audit: fromSpec.audit && { sampleRate: fromSpec.audit.sampleRate, random: random ?? Math.random },
  }
}

/** A strong scope needs the Durable Object, and the stamp strategy that keeps stamps in it. */
function checkStrongScopes(options: FromSpec): void {
  for (const option of ['collections', 'globals'] as const) {
    for (const [slug, setting] of Object.entries(options[option])) {
      if (typeof setting !== 'object' || setting.consistency !== 'strong') continue
      if (!options.strongStamps) {
        throw new KVCacheConfigError(
          `${option}.${slug}.consistency`,
          "is 'strong' but no `strongStamps` binding is given",
          "Bind the Durable Object (`export { KVCacheStamps } from 'payload-kv-cache/durable-object'` and a `durable_objects` binding in wrangler.jsonc) and pass it: `strongStamps: env.KV_CACHE_STAMPS` (README, Strong consistency).",
        )
      }
    }
  }
  if (options.strongStamps && options.invalidation === 'prefix') {
    throw new KVCacheConfigError(
      'strongStamps',
      "needs the stamp strategy (`invalidation: 'prefix'` keeps no stamps)",
      "Remove `invalidation: 'prefix'`, or remove `strongStamps`.",
    )
  }
}

function checkTestHooks(value: unknown): TestHooks {
  if (value === undefined) return {}
  const { clock, random } = value as { clock?: unknown; random?: unknown }
  const isClock = (v: unknown): v is KVCacheClock =>
    typeof v === 'object' && v !== null && typeof (v as KVCacheClock).now === 'function' && typeof (v as KVCacheClock).sleep === 'function'
  if (clock !== undefined && typeof clock !== 'function' && !isClock(clock)) {
    throw new KVCacheConfigError('clock', 'must be a function returning milliseconds, or { now, sleep }', 'Remove it; it exists for tests.')
  }
  if (random !== undefined && typeof random !== 'function') {
    throw new KVCacheConfigError(
      'random',
      `must be a function returning a number in [0, 1) (got ${describe(random)})`,
      'Remove it (Math.random is used); it exists for tests.',
    )
  }
  return { clock: clock as TestHooks['clock'], random: random as TestHooks['random'] }
}

function realSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
