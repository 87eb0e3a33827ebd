/**
 * The value codec: a hit must be exactly what the miss returned. JSON alone loses keys whose
 * value is `undefined` (drizzle emits them and Payload's select relies on them), turns
 * `Date` into strings, and `NaN`, `Infinity` and `-0` into `null` or `0`, and cannot hold
 * `BigInt`. Those become tagged strings; a real string that begins with the tag character
 * is escaped. Anything else that JSON would change (class instances such as ObjectId,
 * Buffers, Maps) makes the result uncacheable: it is served from the database instead.
 */

export class UncacheableValueError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UncacheableValueError'
  }
}

const TAG = '\u0001'
const UNDEFINED = `${TAG}u`
const NAN = `${TAG}n`
const POS_INF = `${TAG}+`
const NEG_INF = `${TAG}-`
const NEG_ZERO = `${TAG}0`
const DATE = `${TAG}d`
const BIGINT = `${TAG}b`
const ESCAPED = `${TAG}s`
/** Marks an object created with a null prototype (toStrictEqual tells it from `{}`). */
const NULL_PROTO_KEY = `${TAG}p`

const MAX_DEPTH = 200

/** Returns a JSON-safe copy of `value` that `decode` turns back into an equal value. */
export function encode(value: unknown): unknown {
  return enc(value, 0)
}

function enc(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      return value.startsWith(TAG) ? ESCAPED + value : value
    case 'number':
      if (Number.isFinite(value)) return Object.is(value, -0) ? NEG_ZERO : value
      return Number.isNaN(value) ? NAN : value > 0 ? POS_INF : NEG_INF
    case 'boolean':
      return value
    case 'undefined':
      return UNDEFINED
    case 'bigint':
      return BIGINT + value.toString()
    case 'object':
      break
    default:
      throw new UncacheableValueError(`a ${typeof value} in the result`)
  }
  if (value === null) return null
  if (depth > MAX_DEPTH) throw new UncacheableValueError('result nested too deeply (or circular)')
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length)
    for (let i = 0; i < value.length; i++) {
      // A hole would come back as undefined; Payload results have none, refuse rather than guess.
      if (!(i in value)) throw new UncacheableValueError('a sparse array in the result')
      out[i] = enc(value[i], depth + 1)
    }
    return out
  }
  if (value instanceof Date) return DATE + value.getTime()
  const proto = Object.getPrototypeOf(value) as object | null
  const nullProto = proto === null
  if (!nullProto && proto !== Object.prototype) {
    const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'unknown'
    throw new UncacheableValueError(`an instance of ${name} in the result`)
  }
  // A null-prototype copy: an own `__proto__` key (JSON.parse makes them) must stay a key,
  // not become the copy's prototype through Object.prototype's setter.
  const out = Object.create(null) as Record<string, unknown>
  if (nullProto) out[NULL_PROTO_KEY] = 1
  for (const key of Object.keys(value)) {
    if (key.startsWith(TAG)) throw new UncacheableValueError('a result key that starts with U+0001')
    out[key] = enc((value as Record<string, unknown>)[key], depth + 1)
  }
  return out
}

/** The inverse of `encode`, applied to a freshly parsed JSON value (mutated in place). */
export function decode(value: unknown): unknown {
  if (typeof value === 'string') return value.charCodeAt(0) === 1 ? decodeTagged(value) : value
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = decode(value[i])
    return value
  }
  const record = value as Record<string, unknown>
  let target = record
  if (NULL_PROTO_KEY in record) {
    delete record[NULL_PROTO_KEY]
    target = Object.create(null) as Record<string, unknown>
  }
  for (const key of Object.keys(record)) {
    const item = decode(record[key])
    if (key === '__proto__') Object.defineProperty(target, key, { value: item, writable: true, enumerable: true, configurable: true })
    else target[key] = item
  }
  return target
}

function decodeTagged(text: string): unknown {
  switch (text.charAt(1)) {
    case 'u':
      return undefined
    case 'n':
      return NaN
    case '+':
      return Infinity
    case '-':
      return -Infinity
    case '0':
      return -0
    case 'd':
      return new Date(Number(text.slice(2)))
    case 'b':
      return BigInt(text.slice(2))
    case 's':
      return text.slice(2)
    default:
      throw new MalformedEntryError(`unknown tag ${JSON.stringify(text.slice(0, 2))}`)
  }
}

export class MalformedEntryError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MalformedEntryError'
  }
}

/** Bumped when the stored shape changes: older and newer entries read as misses. */
export const FORMAT_VERSION = 1

export interface Envelope {
  /** Format version. */
  v: number
  /** The stamps the entry was filled under, joined; valid only while they are current. */
  s: string
  /** Fill time, ms since the epoch. */
  f: number
  /** Logical expiry, ms since the epoch: KV cannot expire anything sooner than 60 s. */
  e: number
  /** The encoded result. */
  d: unknown
}

export function encodeEnvelope(stamps: string, filledAt: number, expiresAt: number, result: unknown): string {
  return envelopeText(stamps, filledAt, expiresAt, encodeBody(result))
}

/** The encoded result as JSON text: one encoding can be wrapped under several stamps (`envelopeText`). */
export function encodeBody(result: unknown): string {
  return JSON.stringify(encode(result))
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
  if (typeof envelope.s !== 'string' || typeof envelope.f !== 'number' || typeof envelope.e !== 'number' || !('d' in envelope)) {
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
        return decode(envelope.d)
      }
      return decode((JSON.parse(raw) as Envelope).d)
    },
  }
}
