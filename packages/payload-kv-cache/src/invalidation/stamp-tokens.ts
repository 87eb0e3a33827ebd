import type { Scope } from '../keys.js'
import { stampKey } from '../keys.js'
import { KV_LIMITS } from '../kv.js'
import { bulkStamp, ownerOfStamp, stampKind, unknownPartitionStamp, versionsBulkStamp } from './documents.js'

/*
 * How a stamp is stored (ARCHITECTURE.md, Invalidation strategies): the keys it is spread
 * over and the text of its tokens. The one place that spells either.
 */

/**
 * The stamp protocol's version, part of every entry's key (fingerprint.ts, `keyNamespace`).
 * An entry is served when the tokens of the stamps its read depends on spell its signature;
 * a library version that changes which stamps a read depends on, how they are keyed or how a
 * signature is spelt must bump this, or a reader of one version could take an entry filled
 * under the other's stamps (for example two unwritten stamps, both read as absent) as valid.
 * It keeps the two versions' entries apart; which stamps each one's writes bump is the write
 * path's to keep compatible (issue 21, item 1).
 *
 * 2: versions reads pinned to a `parent` depend on its versions stamp and the versions bulk
 * stamp instead of the collection's (documents.ts, `versionsStamp`). A deploy of version 1
 * bumps neither, so an entry it shared with version 2 would outlive version 1's version
 * writes: the bump keeps their entries apart while both run (README, Across deploys).
 */
export const STAMP_PROTOCOL_VERSION = 2

/** A scope, or `*`: the stamp every read checks, bumped by migrations and flushes. */
export type StampScope = Scope | '*'

/** How far two isolates' clocks may disagree: a token this much newer than ours is newer, not older. */
export const CLOCK_SKEW_MS = 1000
/** KV accepts one write per second to a key; a second write inside it meets a 429. */
export const STAMP_WRITE_INTERVAL_MS = KV_LIMITS.keyWriteIntervalMs
/**
 * Keys a stamp is spread over. A read fetches all of a stamp's slots in its one bulk `get`,
 * and a write puts a fresh token into the slot this isolate wrote least lately, so a scope
 * takes this many stamp writes a second before any write has to wait for KV's per-key limit.
 * A Payload save without a transaction (SQLite, D1) bumps its collection two or three times
 * (the document, its version, the pruned versions). A document's own stamp has as many: with
 * one, an editor's second save of a post within a second had to bump the collection's bulk
 * stamp, which every cached `findByID` of the collection checks (the demo's share from KV fell
 * from 77.6 % to 73.1 %).
 */
export const STAMP_SLOTS = 3

/**
 * Stamps named by a value no config bounds (a document id, a partition value) fold into one
 * stamp of their collection that every read depending on them also checks: the bulk stamp for
 * a document's, the unknown partition stamp for a partition's, the versions bulk stamp for a
 * document's versions stamp. Undefined for any other stamp.
 */
export function foldedStamp(scope: StampScope): Scope | undefined {
  const kind = stampKind(scope)
  if (kind === 'document') return bulkStamp(ownerOfStamp(scope) as Scope)
  if (kind === 'versions') return versionsBulkStamp(ownerOfStamp(scope) as Scope)
  if (kind === 'partition') return unknownPartitionStamp(ownerOfStamp(scope) as Scope)
  return undefined
}

/** Every key a stamp is spread over. */
export function slotKeys(prefix: string, scope: StampScope): string[] {
  return Array.from({ length: STAMP_SLOTS }, (_, slot) => stampKey(prefix, scope, slot))
}

/** Random text of `bytes` bytes, two base-36 characters each. */
function randomText(bytes: number): string {
  const buffer = new Uint8Array(bytes)
  crypto.getRandomValues(buffer)
  let out = ''
  for (const byte of buffer) out += byte.toString(36).padStart(2, '0')
  return out
}

/** Characters of a token's random part that name the isolate that wrote it (`writerOf`). */
const WRITER_CHARS = 8

/** An id for one isolate's stamp writer: the first characters of every token it writes. */
export function newWriterID(): string {
  return randomText(WRITER_CHARS / 2)
}

/**
 * `<time>-<writer><random>`, and `!<horizon>` on a burst token (times in base 36). The writer
 * part lets a reader tell which of a stamp's tokens one isolate wrote: its burst lasts until
 * a newer token of its own lands (stamp-reads.ts, `burstOpen`). Tokens without one (tests,
 * older versions) read as written by an isolate of their own.
 */
export function newToken(now: number, burstUntil?: number, writer?: string): string {
  const random = writer === undefined ? randomText(9) : writer + randomText(9 - WRITER_CHARS / 2)
  const token = `${now.toString(36)}-${random}`
  return burstUntil === undefined ? token : `${token}!${Math.ceil(burstUntil).toString(36)}`
}

/** The writer part of a token (see `newToken`); undefined for none. */
export function writerOf(token: string | null | undefined): string | undefined {
  if (!token) return undefined
  const dash = token.indexOf('-')
  return dash > 0 ? token.slice(dash + 1, dash + 1 + WRITER_CHARS) : undefined
}

/** The stamp a slot key belongs to: the key with its slot number taken out. */
export function stampOfSlotKey(key: string): string {
  return key.replace(/:stamp:\d+:/, ':stamp:')
}

/**
 * A token only this isolate reads under while its bump waits for a put (stamps.ts): never
 * written to KV, and told apart from every token that is.
 */
export function localToken(now: number): string {
  return `local-${newToken(now)}`
}

/** When a local token was made; -Infinity for none. */
export function localTokenTime(token: string | undefined): number {
  return token === undefined ? -Infinity : tokenTime(token.slice('local-'.length))
}

/** The horizon a burst token carries; undefined for any other value. */
export function burstHorizon(token: string | null | undefined): number | undefined {
  if (!token) return undefined
  const bang = token.indexOf('!')
  if (bang < 0) return undefined
  const until = parseInt(token.slice(bang + 1), 36)
  return Number.isFinite(until) ? until : undefined
}

/** When a token was written; -Infinity for a missing or foreign one. */
export function tokenTime(token: string | null | undefined): number {
  if (!token) return -Infinity
  const dash = token.indexOf('-')
  const at = dash > 0 ? parseInt(token.slice(0, dash), 36) : NaN
  return Number.isFinite(at) ? at : -Infinity
}
