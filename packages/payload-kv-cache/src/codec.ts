/**
 * The value codec: a hit must be exactly what the miss returned. JSON alone loses keys whose
 * value is `undefined` (drizzle emits them and Payload's select relies on them), turns
 * `Date` into strings, and `NaN`, `Infinity` and `-0` into `null` or `0`, cannot hold
 * `BigInt`, and forgets a null prototype. So a result is stored as its plain JSON text plus,
 * only when it holds such values, a sparse list of patches naming where they go
 * (codec-patches.ts): a hit costs `JSON.parse` and one assignment per patch. Anything else
 * that JSON would change (class instances such as ObjectId, Buffers, Maps, sparse arrays)
 * makes the result uncacheable: it is served from the database instead.
 */
import { applyPatches, MalformedEntryError, PatchCollector } from './codec-patches.js'

export { MalformedEntryError, UncacheableValueError } from './codec-patches.js'

/** Bumped when the stored shape changes: older and newer entries read as misses. */
export const FORMAT_VERSION = 2

export interface Envelope {
  /** Format version. */
  v: number
  /** The stamps the entry was filled under, joined; valid only while they are current. */
  s: string
  /** Fill time, ms since the epoch. */
  f: number
  /** Logical expiry, ms since the epoch: KV cannot expire anything sooner than 60 s. */
  e: number
  /** The result: `[json]`, or `[json, patches]` when JSON alone cannot carry it (`encodeBody`). */
  d: [unknown] | [unknown, unknown]
}

export function encodeEnvelope(stamps: string, filledAt: number, expiresAt: number, result: unknown): string {
  return envelopeText(stamps, filledAt, expiresAt, encodeBody(result))
}

/**
 * The encoded result as JSON text, `[json]` or `[json,patches]`: one encoding can be wrapped
 * under several stamps (`envelopeText`). Throws UncacheableValueError for what it cannot keep.
 */
export function encodeBody(result: unknown): string {
  const collector = new PatchCollector()
  let json: string
  try {
    // Never undefined: undefined (and any other value JSON.stringify would skip) is replaced or refused.
    json = JSON.stringify(collector.visit(result, 0))
  } finally {
    // The walk wrote placeholders into the result; the caller gets it back as it was.
    collector.restore()
  }
  const patches = collector.list()
  return patches === undefined ? `[${json}]` : `[${json},${JSON.stringify(patches)}]`
}

/** The inverse of `encodeBody`, on its parsed text (mutated in place). */
export function decodeBody(body: unknown): unknown {
  if (!Array.isArray(body) || (body.length !== 1 && body.length !== 2)) throw new MalformedEntryError('bad body')
  return body.length === 1 ? body[0] : applyPatches(body[0], body[1])
}

/** The envelope around an encoded body; the same text `JSON.stringify` gives for an `Envelope`. */
export function envelopeText(stamps: string, filledAt: number, expiresAt: number, body: string): string {
  return `{"v":${FORMAT_VERSION},"s":${JSON.stringify(stamps)},"f":${JSON.stringify(filledAt)},"e":${JSON.stringify(expiresAt)},"d":${body}}`
}

export type DecodedEntry =
  { status: 'ok'; stamps: string; filledAt: number; expiresAt: number; read: () => unknown } | { status: 'foreign'; reason: string }

/**
 * Parses an entry. The result is decoded lazily by `read()`, so a stale entry costs only the
 * parse; each `read()` parses again and so hands out a fresh object (Payload mutates results).
 */
export function decodeEnvelope(raw: string): DecodedEntry {
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    return { status: 'foreign', reason: 'not JSON' }
  }
  if (parsed === null || typeof parsed !== 'object') return { status: 'foreign', reason: 'not an envelope' }
  const envelope = parsed as Partial<Envelope>
  if (envelope.v !== FORMAT_VERSION) return { status: 'foreign', reason: `format ${String(envelope.v)}` }
  if (typeof envelope.s !== 'string' || typeof envelope.f !== 'number' || typeof envelope.e !== 'number' || !Array.isArray(envelope.d)) {
    return { status: 'foreign', reason: 'incomplete envelope' }
  }
  let first = true
  return {
    status: 'ok',
    stamps: envelope.s,
    filledAt: envelope.f,
    expiresAt: envelope.e,
    read: () => {
      if (first) {
        first = false
        return decodeBody(envelope.d)
      }
      return decodeBody((JSON.parse(raw) as Envelope).d)
    },
  }
}
