import { UncacheableArgumentError } from './canonical.js'
import type { EngineContext } from './engine.js'
import type { Args } from './invalidation/strategy.js'
import type { Scope } from './keys.js'
import { argumentsDigest, byteLength, digest, entryKey, KV_MAX_KEY_BYTES } from './keys.js'
import type { ReadOperation, ScopeRef } from './operations.js'

/**
 * The KV key of one read's entry (ARCHITECTURE.md, read path step 3): the default digest of
 * its arguments, or the user's `key` option (a failing one falls back to the default, logged),
 * within KV's 512-byte key limit. Undefined when the read cannot be keyed.
 */
export function entryKeyFor(
  ctx: EngineContext,
  operation: ReadOperation,
  ref: ScopeRef,
  scope: Scope,
  args: Args,
  strong = false,
): string | undefined {
  const { options } = ctx
  let defaultDigest: string
  try {
    defaultDigest = argumentsDigest(ctx.schema().keyNamespace, operation, args)
  } catch (error) {
    if (error instanceof UncacheableArgumentError) return undefined
    throw error
  }
  let keyDigest = defaultDigest
  if (options.key) {
    try {
      const { req: _req, ...rest } = args
      const custom = options.key({ operation, kind: ref.kind, slug: ref.slug, args: rest, defaultDigest })
      if (typeof custom !== 'string' || custom.length === 0)
        throw new Error(`returned ${typeof custom === 'string' ? 'an empty string' : typeof custom}`)
      keyDigest = custom
    } catch (error) {
      ctx.report('key', `the \`key\` option threw or ${error instanceof Error ? error.message : String(error)}; using the default key`)
    }
  }
  // A strong read's entry carries Durable Object tokens in its stamps: kept apart from the
  // eventual entry of the same call, which would otherwise replace it on every other read.
  if (strong) keyDigest = `${keyDigest}~strong`
  let key = entryKey(options.prefix, scope, operation, keyDigest)
  if (key.length * 3 > KV_MAX_KEY_BYTES && byteLength(key) > KV_MAX_KEY_BYTES) {
    if (keyDigest !== defaultDigest) key = entryKey(options.prefix, scope, operation, digest(keyDigest))
    // A slug so long that even a digest does not fit: this scope is not cached.
    if (byteLength(key) > KV_MAX_KEY_BYTES) return undefined
  }
  return key
}
