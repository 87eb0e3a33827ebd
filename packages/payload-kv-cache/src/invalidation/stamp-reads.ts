import type { Scope } from '../keys.js'
import { burstHorizon, CLOCK_SKEW_MS, localTokenTime, slotKeys, stampOfSlotKey, tokenTime, writerOf } from './stamp-tokens.js'

/** How long KV's location caches may keep serving an older value (Cloudflare: about 60 s). */
const PROPAGATION_WINDOW_MS = 60_000
/** Tokens this isolate wrote lately are remembered this many at most. */
const MAX_RECENT = 1000

/**
 * The read side of the stamps: which keys a read fetches, and what KV's answer means. It
 * keeps what this isolate knows that KV may not show yet: the tokens it wrote lately (a
 * location cache can still answer older ones) and its local tokens for bumps no put carries
 * yet. The writer (stamps.ts) tells it both.
 */
export class StampReads {
  private readonly keyCache = new Map<string, string[]>()
  /** Tokens this isolate wrote lately, by stamp key: KV's location cache may not show them yet. */
  private readonly recent = new Map<string, { token: string; at: number }>()
  /** Local tokens this isolate reads under until a put carries their bump, by slot-0 key. */
  private readonly pendingByKey = new Map<string, string>()
  /**
   * When the newest token dropped from `recent` for room was written. A stamp KV answers with
   * a token no newer than that may be a location cache's older value of a stamp this isolate
   * wrote and no longer remembers: such answers are not trusted for the propagation window.
   */
  private forgottenAt: number | undefined

  constructor(
    private readonly prefix: string,
    private readonly clock: () => number,
    /** This isolate's writer id, the first characters of every token it puts (stamp-tokens.ts). */
    private readonly writer: string,
  ) {}

  footprint(): Record<string, number> {
    return { stampKeySets: this.keyCache.size, recentTokens: this.recent.size, pendingTokens: this.pendingByKey.size }
  }

  /** A token this isolate has just put. */
  wrote(key: string, token: string): void {
    this.recent.delete(key)
    this.recent.set(key, { token, at: this.clock() })
    // Oldest first: drop the excess so the map stays bounded. An isolate that writes more
    // stamps than that within the window (a bulk edit, an import) then reads the stamps it
    // forgot as unsure until the window has passed (issue 21 item 6; README, Limits).
    for (const [old, entry] of this.recent) {
      if (this.recent.size <= MAX_RECENT) break
      this.recent.delete(old)
      this.forgottenAt = Math.max(this.forgottenAt ?? entry.at, entry.at)
    }
  }

  /** The local token this isolate reads the stamp under, or none (undefined). */
  setLocal(key: string, token: string | undefined): void {
    if (token === undefined) this.pendingByKey.delete(key)
    else this.pendingByKey.set(key, token)
  }

  /** The stamp keys a read depending on these scopes fetches, the global stamp's first. */
  keysFor(dependencies: readonly Scope[]): string[] {
    const id = dependencies.join(',')
    let keys = this.keyCache.get(id)
    if (!keys) {
      keys = [...slotKeys(this.prefix, '*')]
      for (const dependency of dependencies) keys.push(...slotKeys(this.prefix, dependency))
      // Bounded by the distinct dependency sets reads produce; cleared wholesale if it grows.
      if (this.keyCache.size >= 1000) this.keyCache.clear()
      this.keyCache.set(id, keys)
    }
    return keys
  }

  /** After a config change: a scope's dependencies may be different. */
  forgetDependencies(): void {
    this.keyCache.clear()
  }

  /**
   * What an entry must have been filled under to be valid now: every slot's token as KV
   * answered it, then the local tokens of this isolate's bumps that no put carries yet.
   */
  signature(keys: readonly string[], values: Map<string, string | null>): string {
    let out = ''
    for (const key of keys) out += (values.get(key) ?? '-') + '.'
    if (this.pendingByKey.size === 0) return out
    for (const key of keys) {
      const pending = this.pendingByKey.get(key)
      if (pending !== undefined) out += pending + '.'
    }
    return out
  }

  /**
   * The time the youngest of these stamps was written, from the time each token carries,
   * this isolate's local tokens included (a bump no put carries yet is a write too).
   */
  youngestWrite(keys: readonly string[], values: Map<string, string | null>): number {
    let youngest = -Infinity
    for (const key of keys) {
      const at = tokenTime(values.get(key))
      if (at > youngest) youngest = at
      if (this.pendingByKey.size === 0) continue
      const local = localTokenTime(this.pendingByKey.get(key))
      if (local > youngest) youngest = local
    }
    return youngest
  }

  /**
   * True when one of these stamps holds a token written after `since`: by this isolate (its
   * own clock, so exact), or by another, whose clock may be up to `CLOCK_SKEW_MS` behind.
   */
  writtenSince(keys: readonly string[], values: Map<string, string | null>, since: number): boolean {
    for (const key of keys) {
      const seen = values.get(key)
      const own = seen != null && this.recent.get(key)?.token === seen
      if (tokenTime(seen) > (own ? since : since - CLOCK_SKEW_MS)) return true
      if (localTokenTime(this.pendingByKey.get(key)) > since) return true
    }
    return false
  }

  /**
   * True when another isolate is in a burst of writes to one of these stamps: its newest
   * token there says a further write of its own may not have a token in KV yet. The burst
   * lasts until a newer token of the same isolate is in the stamp (that put carries every
   * write the horizon covered; stamps.ts puts one after every burst), at most until the
   * horizon the token names, which reaches past the whole retry schedule of that put. Not a
   * fixed time: a trailing put that times out and lands on a retry must find the others still
   * off the scope. This isolate's own bursts do not count: its local tokens cover its own
   * writes, and a single-isolate site (a Node server) keeps its hits.
   */
  burstOpen(keys: readonly string[], values: Map<string, string | null>): boolean {
    let now: number | undefined
    for (const key of keys) {
      const token = values.get(key)
      // The common case, no burst token at all, costs one indexOf per key.
      if (!token || token.indexOf('!') < 0) continue
      now ??= this.clock()
      if (writerOf(token) !== this.writer && this.isOpen(key, token, keys, values, now)) return true
    }
    return false
  }

  /**
   * The horizon of this isolate's open burst on a stamp (`keys`: its slot keys), as another
   * isolate's read of `values` would judge it; undefined when none is open there. The writer
   * asks before a bump returns on a horizon: another isolate may have put a plain token over
   * it (a KV that takes a second put to a key within a second does, and production's after the
   * second), and a reader that no longer sees it would serve what the bump replaced.
   */
  ownOpenBurst(keys: readonly string[], values: Map<string, string | null>): number | undefined {
    const now = this.clock()
    for (const key of keys) {
      const token = values.get(key)
      if (!token || writerOf(token) !== this.writer || !this.isOpen(key, token, keys, values, now)) continue
      return burstHorizon(token)
    }
    return undefined
  }

  /** A burst token still open: its horizon not passed, and no newer token of its writer in its stamp. */
  private isOpen(key: string, token: string, keys: readonly string[], values: Map<string, string | null>, now: number): boolean {
    const until = burstHorizon(token)
    if (until === undefined || until <= now) return false
    const writer = writerOf(token)
    const at = tokenTime(token)
    let stamp: string | undefined
    for (const other of keys) {
      if (other === key) continue
      const value = values.get(other)
      if (!value || writerOf(value) !== writer || !(tokenTime(value) > at)) continue
      stamp ??= stampOfSlotKey(key)
      if (stampOfSlotKey(other) === stamp) return false
    }
    return true
  }

  /**
   * True when KV answered a stamp with an older token than the one this isolate wrote to it
   * within the propagation window: the answer may be a location cache's older value, and
   * trusting it could serve what this isolate's write replaced. A token written well after
   * ours is another isolate's newer write, and is trusted.
   */
  contradictsRecentWrites(keys: readonly string[], values: Map<string, string | null>): boolean {
    const now = this.clock()
    if (this.forgottenAt !== undefined && now - this.forgottenAt > PROPAGATION_WINDOW_MS) this.forgottenAt = undefined
    if (this.recent.size === 0 && this.forgottenAt === undefined) return false
    for (const key of keys) {
      const mine = this.recent.get(key)
      if (!mine) {
        // Perhaps one of ours, forgotten: only a token written after the last forgotten one
        // (with the skew allowance) is surely not a cached value older than our write.
        if (this.forgottenAt !== undefined && !(tokenTime(values.get(key)) > this.forgottenAt + CLOCK_SKEW_MS)) return true
        continue
      }
      if (now - mine.at > PROPAGATION_WINDOW_MS) {
        this.recent.delete(key)
        continue
      }
      const seen = values.get(key)
      if (seen !== mine.token && !(tokenTime(seen) > tokenTime(mine.token) + CLOCK_SKEW_MS)) return true
    }
    return false
  }
}
