/*
 * Over 300 lines for now: the options are still declared as a type, a resolved type, a list
 * of known names and hand-written checks; issue 12 turns them into one spec table.
 */
import type { CacheEvent } from './events.js'
import type { KVNamespaceLike } from './kv.js'
import { isKVNamespace } from './kv.js'
import type { ReadOperation } from './operations.js'
import { READ_OPERATIONS } from './operations.js'

/** Per-operation settings: `false` turns caching of that operation off. */
export type OperationSetting = boolean | { ttl?: number }

export type OperationSettings = Partial<Record<ReadOperation, OperationSetting>>

/** Per collection or global: `false` never caches it, `true` opts a default exclusion in. */
export type ScopeSetting = boolean | { ttl?: number; operations?: OperationSettings }

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
   * single-document update. Default true.
   */
  listPrecision?: boolean
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

export interface ResolvedOptions {
  kv: () => KVNamespaceLike
  ttl: number
  operations: OperationSettings
  collections: Record<string, ScopeSetting>
  globals: Record<string, ScopeSetting>
  key?: (input: KeyInput) => string
  prefix: string
  invalidation: 'stamp' | 'prefix'
  documentStamps: boolean
  listPrecision: boolean
  purgeBudget: number
  waitUntil?: (promise: Promise<unknown>) => void
  kvTimeoutMs: number
  coalesceWaitMs: number
  clock: () => number
  sleep: (ms: number) => Promise<void>
  debug: boolean
  onEvent?: (event: CacheEvent) => void
  /** Undefined when audit mode is off (also for a sample rate of 0). */
  audit?: { sampleRate: number; random: () => number }
}

export class KVCacheConfigError extends Error {
  constructor(option: string, problem: string, fix: string) {
    super(`payload-kv-cache: option \`${option}\` ${problem}. ${fix}`)
    this.name = 'KVCacheConfigError'
  }
}

const KNOWN_OPTIONS = new Set([
  'kv',
  'ttl',
  'operations',
  'collections',
  'globals',
  'key',
  'prefix',
  'invalidation',
  'documentStamps',
  'listPrecision',
  'purgeBudget',
  'waitUntil',
  'kvTimeoutMs',
  'coalesceWaitMs',
  'debug',
  'onEvent',
  'audit',
])

// ':' separates key parts; '*' names the global stamp; control characters break listing.
const PREFIX_PATTERN = /^[A-Za-z0-9_\-.]{1,64}$/

function checkTtl(option: string, value: unknown): void {
  if (value === undefined) return
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new KVCacheConfigError(option, `must be a positive number of seconds (got ${describe(value)})`, 'Use for example `ttl: 300`.')
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (value === null || typeof value !== 'object') return String(value)
  return Array.isArray(value) ? 'an array' : 'an object'
}

function checkOperations(option: string, value: unknown): void {
  if (value === undefined) return
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new KVCacheConfigError(
      option,
      'must be an object keyed by read operation',
      `Use for example \`${option}: { find: { ttl: 60 }, count: false }\`.`,
    )
  }
  for (const [name, setting] of Object.entries(value)) {
    if (!(READ_OPERATIONS as readonly string[]).includes(name)) {
      throw new KVCacheConfigError(`${option}.${name}`, 'is not a read operation', `Use one of: ${READ_OPERATIONS.join(', ')}.`)
    }
    if (typeof setting === 'boolean') continue
    if (setting === null || typeof setting !== 'object') {
      throw new KVCacheConfigError(`${option}.${name}`, 'must be true, false or { ttl }', 'For example `{ ttl: 60 }`.')
    }
    checkTtl(`${option}.${name}.ttl`, (setting as { ttl?: unknown }).ttl)
  }
}

function checkScopes(option: 'collections' | 'globals', value: unknown): void {
  if (value === undefined) return
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new KVCacheConfigError(
      option,
      'must be an object keyed by slug',
      `Use for example \`${option}: { posts: { ttl: 60 }, secrets: false }\`.`,
    )
  }
  for (const [slug, setting] of Object.entries(value)) {
    if (typeof setting === 'boolean') continue
    if (setting === null || typeof setting !== 'object') {
      throw new KVCacheConfigError(`${option}.${slug}`, 'must be true, false or { ttl, operations }', 'For example `{ ttl: 60 }`.')
    }
    checkTtl(`${option}.${slug}.ttl`, (setting as { ttl?: unknown }).ttl)
    checkOperations(`${option}.${slug}.operations`, (setting as { operations?: unknown }).operations)
  }
}

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
      throw new KVCacheConfigError(name, 'is not an option', `Known options: ${[...KNOWN_OPTIONS].join(', ')}.`)
    }
  }
  const { kv } = options
  if (kv === undefined || kv === null) {
    throw new KVCacheConfigError(
      'kv',
      'is missing',
      "Pass your KV binding: `withKVCache(adapter, { kv: env.CACHE })`. In Node, get one from Miniflare or wrangler's getPlatformProxy().",
    )
  }
  if (typeof kv !== 'function' && !isKVNamespace(kv)) {
    throw new KVCacheConfigError(
      'kv',
      `is not a KV namespace (got ${describe(kv)}: it needs get, put, delete and list)`,
      'Pass the binding itself, e.g. `env.CACHE`, or a function returning it.',
    )
  }
  checkTtl('ttl', options.ttl)
  checkOperations('operations', options.operations)
  checkScopes('collections', options.collections)
  checkScopes('globals', options.globals)
  if (options.key !== undefined && typeof options.key !== 'function') {
    throw new KVCacheConfigError('key', 'must be a function returning a string', 'For example `key: ({ defaultDigest }) => defaultDigest`.')
  }
  if (options.prefix !== undefined && (typeof options.prefix !== 'string' || !PREFIX_PATTERN.test(options.prefix))) {
    throw new KVCacheConfigError(
      'prefix',
      `must be 1-64 characters of A-Z, a-z, 0-9, '_', '-', '.' (got ${describe(options.prefix)})`,
      "For example `prefix: 'site-a'`.",
    )
  }
  if (options.invalidation !== undefined && options.invalidation !== 'stamp' && options.invalidation !== 'prefix') {
    throw new KVCacheConfigError(
      'invalidation',
      `must be 'stamp' or 'prefix' (got ${describe(options.invalidation)})`,
      "Remove it (stamps are the default) or set `invalidation: 'prefix'`.",
    )
  }
  if (options.documentStamps !== undefined && typeof options.documentStamps !== 'boolean') {
    throw new KVCacheConfigError(
      'documentStamps',
      `must be true or false (got ${describe(options.documentStamps)})`,
      'Remove it (on by default) or set `documentStamps: false`.',
    )
  }
  if (options.listPrecision !== undefined && typeof options.listPrecision !== 'boolean') {
    throw new KVCacheConfigError(
      'listPrecision',
      `must be true or false (got ${describe(options.listPrecision)})`,
      'Remove it (on by default) or set `listPrecision: false`.',
    )
  }
  const { purgeBudget } = options
  if (
    purgeBudget !== undefined &&
    (typeof purgeBudget !== 'number' || !Number.isInteger(purgeBudget) || purgeBudget < 2 || purgeBudget > 1000)
  ) {
    throw new KVCacheConfigError(
      'purgeBudget',
      `must be a whole number of KV operations from 2 to 1000 (got ${describe(purgeBudget)})`,
      'Workers allow 1,000 KV operations per invocation; for example `purgeBudget: 500`.',
    )
  }
  if (options.waitUntil !== undefined && typeof options.waitUntil !== 'function') {
    throw new KVCacheConfigError('waitUntil', 'must be a function', 'Pass `(p) => ctx.waitUntil(p)`.')
  }
  if (options.kvTimeoutMs !== undefined && (typeof options.kvTimeoutMs !== 'number' || !(options.kvTimeoutMs > 0))) {
    throw new KVCacheConfigError(
      'kvTimeoutMs',
      `must be a positive number of milliseconds (got ${describe(options.kvTimeoutMs)})`,
      'For example `kvTimeoutMs: 1000`.',
    )
  }
  const { coalesceWaitMs } = options
  if (coalesceWaitMs !== undefined && (typeof coalesceWaitMs !== 'number' || !Number.isFinite(coalesceWaitMs) || coalesceWaitMs < 0)) {
    throw new KVCacheConfigError(
      'coalesceWaitMs',
      `must be a number of milliseconds, 0 or more (got ${describe(coalesceWaitMs)})`,
      'For example `coalesceWaitMs: 5000`, or 0 to turn coalescing off.',
    )
  }
  const { clock, random } = checkTestHooks((options as { [TEST_HOOKS]?: unknown })[TEST_HOOKS])
  if (options.debug !== undefined && typeof options.debug !== 'boolean') {
    throw new KVCacheConfigError(
      'debug',
      `must be true or false (got ${describe(options.debug)})`,
      "For example `debug: process.env.NODE_ENV !== 'production'`.",
    )
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
    throw new KVCacheConfigError(
      'onEvent',
      `must be a function (got ${describe(options.onEvent)})`,
      'For example `onEvent: (event) => metrics.increment(`cache.${event.type}`)`.',
    )
  }
  const audit = checkAudit(options.audit, random)

  const getKV = typeof kv === 'function' ? checkedBinding(kv) : () => kv
  return {
    kv: getKV,
    ttl: options.ttl ?? 300,
    operations: options.operations ?? {},
    collections: options.collections ?? {},
    globals: options.globals ?? {},
    key: options.key,
    prefix: options.prefix ?? 'pkc',
    invalidation: options.invalidation ?? 'stamp',
    documentStamps: options.documentStamps ?? true,
    listPrecision: options.listPrecision ?? true,
    purgeBudget: purgeBudget ?? 500,
    waitUntil: options.waitUntil,
    kvTimeoutMs: options.kvTimeoutMs ?? 1000,
    coalesceWaitMs: coalesceWaitMs ?? 5000,
    clock: clock === undefined ? Date.now : typeof clock === 'function' ? clock : () => clock.now(),
    sleep: clock !== undefined && typeof clock === 'object' ? (ms) => clock.sleep(ms) : realSleep,
    debug: options.debug ?? false,
    onEvent: options.onEvent,
    audit,
  }
}

function checkAudit(value: unknown, random: (() => number) | undefined): ResolvedOptions['audit'] {
  if (value === undefined || value === false) return undefined
  const example = 'For example `audit: { sampleRate: 1 }` in staging, `audit: { sampleRate: 0.01 }` in production.'
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new KVCacheConfigError('audit', `must be an object { sampleRate } or false (got ${describe(value)})`, example)
  }
  for (const name of Object.keys(value)) {
    if (name !== 'sampleRate') throw new KVCacheConfigError(`audit.${name}`, 'is not an audit option', 'Known: sampleRate.')
  }
  const { sampleRate } = value as { sampleRate?: unknown }
  if (typeof sampleRate !== 'number' || !Number.isFinite(sampleRate) || sampleRate < 0 || sampleRate > 1) {
    throw new KVCacheConfigError('audit.sampleRate', `must be a number from 0 to 1 (got ${describe(sampleRate)})`, example)
  }
  if (sampleRate === 0) return undefined
  return { sampleRate, random: random ?? Math.random }
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

function checkedBinding(factory: () => KVNamespaceLike): () => KVNamespaceLike {
  return () => {
    const kv = factory()
    if (!isKVNamespace(kv)) {
      throw new KVCacheConfigError(
        'kv',
        `function returned ${describe(kv)}, not a KV namespace`,
        'Check the binding name in wrangler.jsonc.',
      )
    }
    return kv
  }
}
