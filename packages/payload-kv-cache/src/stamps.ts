import type { BackgroundWork } from './background.js'
import type { Scope } from './keys.js'
import { stampKey } from './keys.js'
import type { CacheStats } from './stats.js'
import type { SafeKV } from './store.js'

/** A scope, or `*`: the stamp every read checks, bumped by migrations and flushes. */
export type StampScope = Scope | '*'

const FAILED_RETRY_INTERVAL_MS = 1000
/** How long KV's location caches may keep serving an older value (Cloudflare: about 60 s). */
const PROPAGATION_WINDOW_MS = 60_000
const MAX_RECENT = 1000

/**
 * Invalidation stamps (DESIGN section 6). Each scope's stamp holds a random token; an entry
 * is valid only while the tokens it was filled under are current, so a write invalidates
 * every entry of a scope with one KV put, and a fill that raced a write lands under a dead
 * token. In this isolate a scope whose bump has not landed yet is bypassed, so the isolate
 * that wrote never reads what it overwrote.
 */
export class Stamps {
  private readonly inFlight = new Map<StampScope, number>()
  /** Scopes whose last bump never landed, with the time of the last attempt. */
  private readonly failed = new Map<StampScope, number>()
  private readonly keyCache = new Map<Scope, string[]>()
  /** Tokens this isolate wrote lately, by stamp key: KV's location cache may not show them yet. */
  private readonly recent = new Map<string, { token: string; at: number }>()

  constructor(
    private readonly kv: SafeKV,
    private readonly prefix: string,
    private readonly clock: () => number,
    private readonly stats: CacheStats,
    private readonly background: BackgroundWork,
    private readonly report: (message: string) => void,
  ) {}

  /** The stamp keys a read of `scope` fetches, the global one first. */
  keysFor(scope: Scope, dependencies: readonly Scope[]): string[] {
    let keys = this.keyCache.get(scope)
    if (!keys) {
      keys = [stampKey(this.prefix, '*'), ...dependencies.map((dependency) => stampKey(this.prefix, dependency))]
      this.keyCache.set(scope, keys)
    }
    return keys
  }

  /** What an entry must have been filled under to be valid now. */
  signature(keys: readonly string[], values: Map<string, string | null>): string {
    let out = ''
    for (const key of keys) out += (values.get(key) ?? '-') + '.'
    return out
  }

  /**
   * True when KV answered a stamp with something other than the token this isolate wrote to
   * it within the propagation window: the answer may be a location cache's older value, and
   * trusting it could serve what this isolate's write replaced.
   */
  contradictsRecentWrites(keys: readonly string[], values: Map<string, string | null>): boolean {
    if (this.recent.size === 0) return false
    const now = this.clock()
    for (const key of keys) {
      const mine = this.recent.get(key)
      if (!mine) continue
      if (now - mine.at > PROPAGATION_WINDOW_MS) this.recent.delete(key)
      else if (values.get(key) !== mine.token) return true
    }
    return false
  }

  /** True when a write to one of these scopes has not finished invalidating. */
  isUnsettled(dependencies: readonly Scope[]): boolean {
    if (this.inFlight.size === 0 && this.failed.size === 0) return false
    if (this.inFlight.has('*') || this.failed.has('*')) {
      this.retryFailed('*')
      return true
    }
    let unsettled = false
    for (const scope of dependencies) {
      if (this.inFlight.has(scope)) unsettled = true
      else if (this.failed.has(scope)) {
        unsettled = true
        this.retryFailed(scope)
      }
    }
    return unsettled
  }

  /** Marks scopes as being written; returns the release. */
  hold(scopes: Iterable<StampScope>): () => void {
    const held = [...scopes]
    for (const scope of held) this.inFlight.set(scope, (this.inFlight.get(scope) ?? 0) + 1)
    return () => {
      for (const scope of held) {
        const count = (this.inFlight.get(scope) ?? 1) - 1
        if (count <= 0) this.inFlight.delete(scope)
        else this.inFlight.set(scope, count)
      }
    }
  }

  /** Writes new tokens for the scopes. Never throws: a bump that cannot land is retried and reported. */
  async bump(scopes: Iterable<StampScope>): Promise<void> {
    await Promise.all([...scopes].map((scope) => this.bumpOne(scope)))
  }

  /**
   * One attempt inline: a write must not wait seconds on a failing KV, and retrying inside
   * the same second only meets KV's one-write-per-second limit again. A failed scope is
   * bypassed in this isolate and retried, at most once a second, when a read touches it.
   */
  private async bumpOne(scope: StampScope): Promise<void> {
    const key = stampKey(this.prefix, scope)
    const token = newToken(this.clock())
    const ok = await this.kv.put(key, token)
    if (ok) {
      this.stats.stampWrites++
      this.recent.delete(key)
      this.recent.set(key, { token, at: this.clock() })
      // Oldest first: drop the excess so the map stays bounded.
      for (const old of this.recent.keys()) {
        if (this.recent.size <= MAX_RECENT) break
        this.recent.delete(old)
      }
      this.failed.delete(scope)
      return
    }
    this.failed.set(scope, this.clock())
    this.report(`could not write the invalidation stamp for ${scope}; this isolate bypasses the cache for it until a retry lands, other isolates may serve stale entries until their TTL`)
  }

  private retryFailed(scope: StampScope): void {
    const last = this.failed.get(scope)
    if (last === undefined || this.clock() - last < FAILED_RETRY_INTERVAL_MS) return
    this.failed.set(scope, this.clock())
    const release = this.hold([scope])
    this.background.run(() => this.bumpOne(scope).finally(release))
  }
}

function newToken(now: number): string {
  const bytes = new Uint8Array(9)
  crypto.getRandomValues(bytes)
  let random = ''
  for (const byte of bytes) random += byte.toString(36).padStart(2, '0')
  return `${now.toString(36)}-${random}`
}
