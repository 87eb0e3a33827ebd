/*
 * Every option, declared once: its check (the config-time error naming it and the fix), its
 * default and its line in the README's options table. options.ts derives the option names, the
 * resolved options and their type from this table; the README's table is written from it
 * (`pnpm readme:options`) and test/readme-options.test.ts fails when the two differ.
 */
import type { Check } from './option-checks.js'
import * as check from './option-checks.js'
import type { AuditOptions, KVCacheOptions, OperationSettings, ScopeSetting } from './options.js'

export interface OptionSpec<T, R> {
  /** The README's default column (Markdown). */
  readonly shown: string
  /** The README's meaning column (Markdown, one line). */
  readonly meaning: string
  /** Runs on a value that was given (not `undefined`). */
  readonly check: Check<T>
  /** What the engine gets, from the checked value or from `undefined` when the option is left out. */
  readonly resolve: (value: T | undefined) => R
}

/** A default that is a value: the README shows it as code. */
function valued<T>(fallback: T, checkValue: Check<T>, meaning: string, shown?: string): OptionSpec<T, T> {
  const code = `\`${typeof fallback === 'string' ? `'${fallback}'` : String(fallback)}\``
  return { shown: shown ?? code, meaning, check: checkValue, resolve: (value) => value ?? fallback }
}

/** No default: the option is off, or its absence means something the README describes. */
function optional<T>(shown: string, checkValue: Check<T>, meaning: string): OptionSpec<T, T | undefined> {
  return { shown, meaning, check: checkValue, resolve: (value) => value }
}

/** A README line written over several source lines. */
const lines = (...parts: string[]): string => parts.join(' ')

// ':' separates key parts; '*' names the global stamp; control characters break listing.
const PREFIX_PATTERN = /^[A-Za-z0-9_\-.]{1,64}$/

const flag = (option: string, fix: string): Check<boolean> => check.checkThat(option, check.isBoolean, 'must be true or false', fix)

export const OPTION_SPEC = {
  kv: {
    shown: 'required',
    meaning: 'The KV namespace, or a function returning it (bindings can be per request).',
    check: check.kvBinding,
    resolve: check.kvGetter,
  },
  ttl: valued(
    300,
    check.seconds('ttl'),
    "Seconds an entry lives. Values under 60 s (KV's minimum) are honoured by a logical expiry stored with the entry.",
  ),
  operations: valued<OperationSettings>(
    {},
    check.operations('operations'),
    'Per read operation for every collection and global: `{ find: { ttl: 60 }, count: false }`.',
    'all on',
  ),
  collections: valued<Record<string, ScopeSetting>>(
    {},
    check.scopes('collections'),
    "Per collection: `false`, `true` (opt a default exclusion in), or `{ ttl, operations, consistency }` (`consistency: 'strong'`, see *Strong consistency*). Unknown slugs fail at start-up.",
    'all on, see below',
  ),
  globals: valued<Record<string, ScopeSetting>>(
    {},
    check.scopes('globals'),
    'Per global, same shape.',
    'all on except `payload-jobs-stats`',
  ),
  key: optional(
    'SHA-256 of the arguments',
    check.checkThat<NonNullable<KVCacheOptions['key']>>(
      'key',
      check.isFunction,
      'must be a function returning a string',
      'For example `key: ({ defaultDigest }) => defaultDigest`.',
    ),
    lines(
      '`({ operation, kind, slug, args, defaultDigest }) => string` replaces the digest part of the key.',
      'The scope part is kept so invalidation still reaches the entry.',
      'If it throws or returns a non-string, the default key is used and the problem is logged.',
    ),
  ),
  prefix: valued(
    'pkc',
    check.checkThat<string>(
      'prefix',
      (value) => typeof value === 'string' && PREFIX_PATTERN.test(value),
      "must be 1-64 characters of A-Z, a-z, 0-9, '_', '-', '.'",
      "For example `prefix: 'site-a'`.",
    ),
    'Key namespace, so several sites can share one KV namespace. `[A-Za-z0-9_.-]`, at most 64.',
  ),
  invalidation: valued<'stamp' | 'prefix'>(
    'stamp',
    check.checkThat(
      'invalidation',
      (value) => value === 'stamp' || value === 'prefix',
      "must be 'stamp' or 'prefix'",
      "Remove it (stamps are the default) or set `invalidation: 'prefix'`.",
    ),
    "`'stamp'` or `'prefix'`: how a write invalidates (see *Invalidation strategies*).",
  ),
  documentStamps: valued(
    true,
    flag('documentStamps', 'Remove it (on by default) or set `documentStamps: false`.'),
    lines(
      'Stamp strategy: a `findOne` by id (what `findByID` and `GET /api/posts/:id` make) that follows no relationship or join',
      "depends on its own document, so editing one post leaves every other post's cached read valid.",
      'Costs one more stamp write per single-document write; `false` keeps one stamp per collection.',
    ),
  ),
  listPrecision: valued(
    true,
    flag('listPrecision', 'Remove it (on by default) or set `listPrecision: false`.'),
    lines(
      "Stamp strategy with `documentStamps`: a `find`, `count` or `findDistinct` that reads only its own collection's rows",
      'depends on the fields it filters and sorts on, on creates and deletes, and (a `find`) on the documents it returned,',
      'so an edit that cannot change a list leaves it cached (see *Consistency, in plain words*).',
      'Costs one database read (the row before the write) per single-document update;',
      '`false` makes every write to a collection invalidate its lists, and so does a custom `key`',
      '(calls it gives one entry must depend on the same stamps).',
    ),
  ),
  strongStamps: {
    shown: 'none',
    meaning: lines(
      "The Durable Object binding of `KVCacheStamps` (`payload-kv-cache/durable-object`): keeps the stamps of scopes with `consistency: 'strong'`,",
      'whose reads then see every committed write in every location (see *Strong consistency*). With it, auth collections and `payload-locked-documents`',
      'are cached as strong scopes by default (see *Not cached by default*).',
    ),
    check: check.strongStampsBinding,
    resolve: check.strongStampsGetter,
  },
  purgeBudget: valued(
    500,
    check.checkThat<number>(
      'purgeBudget',
      (value) => typeof value === 'number' && Number.isInteger(value) && value >= 2 && value <= 1000,
      'must be a whole number of KV operations from 2 to 1000',
      'Workers allow 1,000 KV operations per invocation; for example `purgeBudget: 500`.',
    ),
    lines(
      "KV operations (list pages, deletes) one invalidation makes before the write returns, for the `'prefix'` strategy and `purge()`;",
      'the rest finish in the background through `waitUntil`. 2 to 1000 (Workers allow 1,000 KV operations per invocation).',
    ),
  ),
  waitUntil: optional(
    'none',
    check.checkThat<NonNullable<KVCacheOptions['waitUntil']>>(
      'waitUntil',
      check.isFunction,
      'must be a function',
      'Pass `(p) => ctx.waitUntil(p)`.',
    ),
    lines(
      "Workers' `waitUntil` (e.g. `import { waitUntil } from 'cloudflare:workers'`): fills run through it.",
      'Without it they run in the background and `payload.db.kvCache.settled()` waits for them.',
    ),
  ),
  kvTimeoutMs: valued(
    1000,
    check.checkThat<number>(
      'kvTimeoutMs',
      (value) => typeof value === 'number' && value > 0,
      'must be a positive number of milliseconds',
      'For example `kvTimeoutMs: 1000`.',
    ),
    'A KV call (get, put, list, delete) slower than this is abandoned; a read then goes to the database.',
  ),
  coalesceWaitMs: valued(
    5000,
    check.checkThat<number>(
      'coalesceWaitMs',
      (value) => typeof value === 'number' && Number.isFinite(value) && value >= 0,
      'must be a number of milliseconds, 0 or more',
      'For example `coalesceWaitMs: 5000`, or 0 to turn coalescing off.',
    ),
    lines(
      "Single-flight: identical misses in one isolate wait for the first one's database call (each gets its own copy)",
      'instead of making their own, for at most this long. `0` turns it off.',
    ),
  ),
  debug: valued(
    false,
    flag('debug', "For example `debug: process.env.NODE_ENV !== 'production'`."),
    'Logs one line per cache event at debug level through `payload.logger` (see *Operating it*).',
  ),
  onEvent: optional(
    'none',
    check.checkThat<NonNullable<KVCacheOptions['onEvent']>>(
      'onEvent',
      check.isFunction,
      'must be a function',
      'For example `onEvent: (event) => metrics.increment(`cache.${event.type}`)`.',
    ),
    '`(event: CacheEvent) => void`, called with every cache event, for metrics systems.',
  ),
  audit: {
    shown: 'off',
    meaning: lines(
      '`{ sampleRate }` from 0 to 1: that share of hits is read again from the database after being served and compared strictly;',
      'mismatches are counted and logged at warn (see *Operating it*).',
    ),
    check: check.audit,
    // A sample rate of 0 is off too: the read path then pays nothing for audit mode.
    resolve: (value: AuditOptions | false | undefined): AuditOptions | undefined => (value && value.sampleRate > 0 ? value : undefined),
  },
} satisfies { readonly [K in keyof KVCacheOptions]-?: OptionSpec<NonNullable<KVCacheOptions[K]>, unknown> }

// KVCacheOptions is written by hand for its JSDoc; this fails to compile when it and the spec
// stop naming the same options (the `satisfies` above also holds each option's type to it).
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : false
const _sameKeys: SameKeys<KVCacheOptions, typeof OPTION_SPEC> = true

export type OptionName = keyof typeof OPTION_SPEC

/** The README's options table, one row per option in the spec's order. */
export function optionsTable(): string {
  const rows = Object.entries(OPTION_SPEC).map(([name, spec]) => `| \`${name}\` | ${spec.shown} | ${spec.meaning} |`)
  return ['| option | default | meaning |', '|---|---|---|', ...rows].join('\n')
}
