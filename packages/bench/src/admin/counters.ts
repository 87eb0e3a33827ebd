/** The website's counters over an interval: what a run adds to what the server had counted before it. */
import type { CacheStatsBreakdown, DetailedStats } from 'payload-kv-cache'
import type { Probe } from './probe.js'

type Counts = Partial<Record<string, number>>

function minus(after: Counts, before: Counts): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [key, value] of Object.entries(after)) {
    const moved = (value ?? 0) - (before[key] ?? 0)
    if (moved !== 0) out[key] = moved
  }
  return out
}

export const readsSince = (before: Probe, after: Probe): Record<string, number> => minus(after.database.readsBy, before.database.readsBy)

function minusAll(after: Record<string, Counts>, before: Record<string, Counts>): Record<string, Partial<DetailedStats>> {
  const out: Record<string, Partial<DetailedStats>> = {}
  for (const [key, counts] of Object.entries(after)) {
    const moved = minus(counts, before[key] ?? {})
    if (Object.keys(moved).length > 0) out[key] = moved
  }
  return out
}

/** Null on the uncached server, which has no cache to count. */
export function breakdownSince(before: Probe, after: Probe): CacheStatsBreakdown | null {
  const a = after.breakdown
  if (!a) return null
  const b = before.breakdown
  return {
    // Every total, moved or not: the report reads them by name.
    totals: Object.fromEntries(
      Object.entries(a.totals).map(([key, value]) => [key, value - ((b?.totals as Counts | undefined)?.[key] ?? 0)]),
    ) as unknown as DetailedStats,
    byScope: minusAll(a.byScope, b?.byScope ?? {}),
    byOperation: minusAll(a.byOperation, b?.byOperation ?? {}),
  }
}
