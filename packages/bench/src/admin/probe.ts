/**
 * The website's counters, read between two steps from `/api/kv-cache-stats` (which reads
 * nothing from the database itself): the calls that reached Postgres and, on the cached
 * server, the cache's stats and breakdown.
 */
import type { CacheStats, CacheStatsBreakdown } from 'payload-kv-cache'

export interface Probe {
  database: { reads: number; writes: number; readsBy: Record<string, number> }
  stats: CacheStats | null
  breakdown: CacheStatsBreakdown | null
}

export async function probe(url: string): Promise<Probe> {
  const response = await fetch(`${url}/api/kv-cache-stats`)
  if (!response.ok) throw new Error(`${url}/api/kv-cache-stats answered ${response.status}`)
  return (await response.json()) as Probe
}
