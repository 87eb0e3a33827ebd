import { sha256 } from '@noble/hashes/sha2.js'
import { canonicalize } from './canonical.js'
import { KV_LIMITS } from './kv.js'
import type { ReadOperation } from './operations.js'

/** KV refuses keys over 512 bytes. */
export const KV_MAX_KEY_BYTES = KV_LIMITS.maxKeyBytes

const encoder = new TextEncoder()

export function byteLength(text: string): number {
  return encoder.encode(text).length
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

function base64url(bytes: Uint8Array): string {
  let out = ''
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    out += BASE64URL[n >> 18]! + BASE64URL[(n >> 12) & 63]! + BASE64URL[(n >> 6) & 63]! + BASE64URL[n & 63]!
  }
  const rest = bytes.length - i
  if (rest === 1) {
    const n = bytes[i]! << 16
    out += BASE64URL[n >> 18]! + BASE64URL[(n >> 12) & 63]!
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8)
    out += BASE64URL[n >> 18]! + BASE64URL[(n >> 12) & 63]! + BASE64URL[(n >> 6) & 63]!
  }
  return out
}

/**
 * A cryptographic digest, not a fast non-cryptographic one: access control is merged into
 * `where`, so a key collision would hand one user's result to another. SHA-256 makes
 * crafting one infeasible.
 */
export function digest(text: string): string {
  return base64url(sha256(encoder.encode(text)))
}

/** `c:<slug>` for a collection, `g:<slug>` for a global. */
export type Scope = `c:${string}` | `g:${string}`

/** The digest of one read: every argument but `req`, plus the adapter and operation. */
export function argumentsDigest(adapterName: string, operation: ReadOperation, args: Record<string, unknown>): string {
  const { req: _req, ...rest } = args
  return digest(`${adapterName}\n${operation}\n${canonicalize(rest)}`)
}

export function entryKey(prefix: string, scope: Scope, operation: ReadOperation, keyDigest: string): string {
  return `${prefix}:${scope}:${operation}:${keyDigest}`
}

/**
 * The key of one of a stamp's slots. Slot 0 is the stamp's own key; the others put the slot
 * number before the scope, where no scope name can start with a digit, so no two stamps'
 * slots share a key whatever a slug or document id holds.
 */
export function stampKey(prefix: string, scope: Scope | '*', slot = 0): string {
  return slot === 0 ? `${prefix}:stamp:${scope}` : `${prefix}:stamp:${slot}:${scope}`
}

/** The scope of a collection or global named by an adapter call. */
export function toScope(ref: { kind: 'collection' | 'global'; slug: string }): Scope {
  return ref.kind === 'global' ? `g:${ref.slug}` : `c:${ref.slug}`
}
