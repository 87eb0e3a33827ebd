/**
 * Section 3: the per-call cost of the library's key derivation and value codec, next to
 * object-hash and plain JSON on the same inputs. Imports the built library, not its sources:
 * what users run, through its `payload-kv-cache/internals` subpath (not a stable API).
 */
import { createHash } from 'node:crypto'
import objectHash from 'object-hash'
import { argumentsDigest, canonicalize, decodeEnvelope, encodeEnvelope } from 'payload-kv-cache/internals'
import { ARGUMENTS, page } from './fixtures.js'
import type { MicroOptions } from './microbench.js'
import { compare, consumed } from './microbench.js'

/** What a key covers besides the arguments: the adapter name and the schema fingerprint. */
const NAMESPACE = 'postgres:k3f9a2'

export interface KeyRow {
  name: string
  /** Median ns per call. */
  library: number
  canonicalOnly: number
  /** What-if: the same canonical text hashed by native SHA-256 instead of the pure-JS one. */
  canonicalNativeHash: number
  objectHash: number
  json: number
}

export interface CodecRow {
  documents: number
  bytes: number
  encode: number
  jsonStringify: number
  decode: number
  jsonParse: number
}

export function measureKeys(options: MicroOptions): KeyRow[] {
  return ARGUMENTS.map(({ name, operation, args }) => {
    const { req: _req, ...rest } = args
    // object-hash on exactly what the library's digest covers: `req` left out, name and operation in.
    const hashed = { adapter: NAMESPACE, operation, ...rest }
    const times = compare(
      {
        library: () => argumentsDigest(NAMESPACE, operation, args),
        canonicalOnly: () => canonicalize(rest),
        canonicalNativeHash: () =>
          createHash('sha256')
            .update(`${NAMESPACE}\n${operation}\n${canonicalize(rest)}`)
            .digest('base64url'),
        objectHash: () => objectHash(hashed),
        json: () => JSON.stringify(hashed),
      },
      options,
    )
    return { name, ...times }
  })
}

export function measureCodec(options: MicroOptions): CodecRow[] {
  const rows = [10, 100].map((documents) => {
    const result = page(documents)
    const raw = encodeEnvelope('s1.s2.s3', 0, 300_000, result)
    const json = JSON.stringify(result)
    const times = compare(
      {
        encode: () => encodeEnvelope('s1.s2.s3', 0, 300_000, result),
        jsonStringify: () => JSON.stringify(result),
        // A hit: parse the envelope, then read the result out (decoding its tags).
        decode: () => {
          const entry = decodeEnvelope(raw)
          return entry.status === 'ok' ? entry.read() : undefined
        },
        jsonParse: () => JSON.parse(json) as unknown,
      },
      options,
    )
    return { documents, bytes: Buffer.byteLength(raw), ...times }
  })
  consumed()
  return rows
}
