import { runWithControl } from './context.js'
import type { CacheEngine } from './engine.js'
import type { Scope } from './keys.js'
import type { CacheControl } from './options.js'
import type { CacheStats, CacheStatsBreakdown } from './stats.js'
import { Counters, emptyStats } from './stats.js'

/** Control over one wrapped adapter: `payload.db.kvCache`, also on the value `withKVCache` returns. */
export interface KVCacheHandle {
  /** Counters for this isolate since the adapter was initialised. */
  stats(): CacheStats
  /**
   * Every counter (with bypasses and fill skips split by reason), in total and by scope
   * (`c:posts`, `g:settings`, `*`) and by operation (`find`, `updateOne`, ...).
   */
  breakdown(): CacheStatsBreakdown
  /**
   * Resolves when every piece of background work this isolate tracks (fills, trailing stamp
   * writes, purge continuations) has finished. Work handed to `waitUntil` is the runtime's:
   * a Worker may cancel it, so waiting on it here could hang for good.
   */
  settled(): Promise<void>
  /** Runs `fn` with cache control for every adapter call inside it, `findByID` included. */
  run<R>(control: CacheControl, fn: () => R): R
  /** Invalidates the named collections and globals, for writes made outside Payload. */
  invalidate(target: { collections?: string[]; globals?: string[] }): Promise<void>
  /** Invalidates every entry of this prefix. */
  invalidateAll(): Promise<void>
  /**
   * Invalidates the named collections and globals and deletes their entries (and those of
   * every collection whose reads depend on them) from KV, for raw SQL, imports and
   * migrations run outside Payload. Omit both to purge everything.
   */
  purge(target?: { collections?: string[]; globals?: string[] }): Promise<void>
  /**
   * How many entries each of this isolate's in-memory maps holds (stamp state, single-flight,
   * background work, pending transactions, ...), for diagnostics: each is bounded or drains
   * when work settles. The names may change between versions.
   */
  footprint(): Record<string, number>
}

export class Handle implements KVCacheHandle {
  private engine: CacheEngine | undefined

  /** Called by the wrapper's `init` (again on hot reload). */
  attach(engine: CacheEngine): void {
    this.engine = engine
  }

  footprint(): Record<string, number> {
    return this.engine ? this.engine.footprint() : {}
  }

  stats(): CacheStats {
    return this.engine ? this.engine.counters.stats() : emptyStats()
  }

  breakdown(): CacheStatsBreakdown {
    return this.engine ? this.engine.counters.breakdown() : new Counters().breakdown()
  }

  async settled(): Promise<void> {
    await this.engine?.background.settled()
  }

  run<R>(control: CacheControl, fn: () => R): R {
    return runWithControl(control, fn)
  }

  async invalidate(target: { collections?: string[]; globals?: string[] }): Promise<void> {
    await this.requireEngine().invalidate(scopesOf(target))
  }

  async purge(target: { collections?: string[]; globals?: string[] } = {}): Promise<void> {
    const scopes = scopesOf(target)
    await this.requireEngine().purge(scopes.length === 0 ? ['*'] : scopes)
  }

  async invalidateAll(): Promise<void> {
    await this.requireEngine().invalidate(['*'])
  }

  private requireEngine(): CacheEngine {
    if (!this.engine) throw new Error('payload-kv-cache: the adapter is not initialised yet; call this after getPayload() resolves.')
    return this.engine
  }
}

function scopesOf(target: { collections?: string[]; globals?: string[] }): Scope[] {
  return [...(target.collections ?? []).map((slug) => `c:${slug}` as const), ...(target.globals ?? []).map((slug) => `g:${slug}` as const)]
}
