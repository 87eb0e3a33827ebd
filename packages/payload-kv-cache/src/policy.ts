import type { ConfigLike } from './dependencies.js'
import type { Scope } from './keys.js'
import type { ReadOperation } from './operations.js'
import type { OperationSetting, OperationSettings, ResolvedOptions, ScopeSetting } from './options.js'
import { KVCacheConfigError } from './options.js'

/**
 * Collections written so often, or whose staleness is so harmful, that caching them does more
 * harm than good (README, Not cached by default). Each can be opted in with `collections: { slug: true }`.
 * With `strongStamps`, auth collections and the lock collection are cached as strong scopes instead.
 */
export const DEFAULT_EXCLUDED_COLLECTIONS: readonly string[] = [
  'payload-jobs',
  'payload-locked-documents',
  'payload-migrations',
  'payload-kv',
]
// Not `payload-preferences`: the admin reads them on every page (BENCHMARKS.md 1c: a third of
// an editor session's database reads), writes them seldom, and they are one editor's view
// settings, which the editor's own isolate sees at once and others within KV's window.
export const DEFAULT_EXCLUDED_GLOBALS: readonly string[] = ['payload-jobs-stats']

/** Payload's document locks: who is editing what (README, Not cached by default). */
const LOCKS = 'payload-locked-documents'

/** Which reads are cached and for how long, decided once per scope and operation. */
export class CachePolicy {
  private readonly table = new Map<string, number | null>()

  constructor(
    private readonly options: ResolvedOptions,
    config: ConfigLike,
  ) {
    const collections = new Map((config.collections ?? []).map((c) => [c.slug, c]))
    const globals = new Set((config.globals ?? []).map((g) => g.slug))
    for (const slug of Object.keys(options.collections)) {
      if (!collections.has(slug)) {
        throw new KVCacheConfigError(
          `collections.${slug}`,
          'names no collection in your Payload config',
          `Known collections: ${[...collections.keys()].join(', ')}.`,
        )
      }
    }
    for (const slug of Object.keys(options.globals)) {
      if (!globals.has(slug)) {
        throw new KVCacheConfigError(
          `globals.${slug}`,
          'names no global in your Payload config',
          `Known globals: ${[...globals].join(', ') || '(none)'}.`,
        )
      }
    }
    // A logout, revoked session or lock-out must never be read back stale, nor a lock taken or
    // released: with a Durable Object to keep their stamps these are cached as strong scopes,
    // which see every committed write in every location; without one they are not cached,
    // as KV's window (its propagation, plus up to 30 s) is too long for them.
    const strongByDefault = [
      ...[...collections.values()].filter((c) => Boolean(c.auth)).map((c) => `c:${c.slug}` as const),
      ...(collections.has(LOCKS) ? [`c:${LOCKS}` as const] : []),
    ]
    this.strongByDefault = new Set(options.strongStamps ? strongByDefault : [])
    this.excluded = new Set<Scope>([
      ...DEFAULT_EXCLUDED_COLLECTIONS.map((slug) => `c:${slug}` as const),
      ...DEFAULT_EXCLUDED_GLOBALS.map((slug) => `g:${slug}` as const),
      ...strongByDefault,
    ])
    this.known = new Set<Scope>([...[...collections.keys()].map((s) => `c:${s}` as const), ...[...globals].map((s) => `g:${s}` as const)])
  }

  private readonly excluded: Set<Scope>
  private readonly strongByDefault: ReadonlySet<Scope>
  private readonly known: Set<Scope>

  /** TTL in seconds, or null when this read is not cached. */
  ttlFor(scope: Scope, operation: ReadOperation): number | null {
    const id = `${scope}\n${operation}`
    const cached = this.table.get(id)
    if (cached !== undefined) return cached
    const ttl = this.decide(scope, operation)
    this.table.set(id, ttl)
    return ttl
  }

  /** Every collection and global of the config. */
  get scopes(): ReadonlySet<Scope> {
    return this.known
  }

  /** Whether any read of this scope can be cached: writes to scopes no cached read depends on need no stamp. */
  isCached(scope: Scope): boolean {
    return this.known.has(scope) && this.scopeSetting(scope) !== false
  }

  /** Whether reads of this scope are strong (`consistency: 'strong'`; README, Strong consistency). */
  isStrong(scope: Scope): boolean {
    const setting = this.scopeSetting(scope)
    return typeof setting === 'object' && setting.consistency === 'strong'
  }

  private scopeSetting(scope: Scope): ScopeSetting | undefined {
    const slug = scope.slice(2)
    const table = scope.startsWith('c:') ? this.options.collections : this.options.globals
    // Own keys only: a slug such as `constructor` must not find Object.prototype's.
    const setting = Object.hasOwn(table, slug) ? table[slug] : undefined
    if (this.strongByDefault.has(scope)) {
      // Strong unless the setting says otherwise (`false`, or `consistency: 'eventual'`).
      if (setting === undefined || setting === true) return { consistency: 'strong' }
      if (typeof setting === 'object' && setting.consistency === undefined) return { ...setting, consistency: 'strong' }
      return setting
    }
    if (setting !== undefined) return setting
    return this.excluded.has(scope) ? false : undefined
  }

  private decide(scope: Scope, operation: ReadOperation): number | null {
    if (!this.known.has(scope)) return null
    const setting = this.scopeSetting(scope)
    if (setting === false) return null
    const scoped = typeof setting === 'object' ? setting : undefined
    const perScope = operationSetting(scoped?.operations, operation)
    if (perScope === false) return null
    const global = operationSetting(this.options.operations, operation)
    if (global === false && perScope === undefined) return null
    return (
      (typeof perScope === 'object' ? perScope.ttl : undefined) ??
      scoped?.ttl ??
      (typeof global === 'object' ? global.ttl : undefined) ??
      this.options.ttl
    )
  }
}

function operationSetting(settings: OperationSettings | undefined, operation: ReadOperation): OperationSetting | undefined {
  return settings?.[operation]
}
