/**
 * `payload-kv-cache/internals`: the key and codec functions the benchmarks (packages/bench,
 * section 3) and tests time or call directly, and the test hooks (a clock to move time, the
 * audit's random draws) that are kept out of the public options. For benchmarks and tests,
 * not a stable API: anything here may change or go in any release without notice.
 * Applications use the package's main entry (`payload-kv-cache`).
 */
export { canonicalize } from './canonical.js'
export { decodeEnvelope, encodeEnvelope } from './codec.js'
export { argumentsDigest } from './keys.js'
export { withTestHooks } from './options.js'
export type { KVCacheClock, TestHooks } from './options.js'
