/**
 * Figures the bench and the demo report the same way. No imports but types, and nothing
 * Node-only: the bench Worker bundles this file (`@pkc/testkit/stats`).
 */
import type { CacheStats } from 'payload-kv-cache'

/**
 * The q-quantile (0 < q <= 1) by the nearest-rank rule: the smallest value with at least
 * q of all values at or below it, i.e. the ceil(q * n)-th smallest. No interpolation, so a
 * reported p50 or p99 is a figure that was actually observed. NaN for no values.
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

/** The nearest-rank median: for an even count, the lower of the two middle values. */
export const median = (values: readonly number[]): number => quantile(values, 0.5)

/** The arithmetic mean; 0 for no values. */
export const mean = (values: readonly number[]): number => (values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length)

/** The adapter reads the cache saw: answered, missed, rejected as stale, sent past it, or coalesced. */
export const lookupsOf = (stats: CacheStats): number => stats.hits + stats.misses + stats.stale + stats.bypasses + stats.coalesced
