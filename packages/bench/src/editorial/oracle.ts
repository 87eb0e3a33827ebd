/**
 * Section 1b's oracle: a perfect cache that never serves stale data must read the database for
 * a GET whose answer changed since its URL was last requested, and need not otherwise. Hit
 * ratios mix both kinds of GET (and first requests, which no cache can serve), so they cannot
 * say how close list precision is to that bound; efficiency, over the GETs that need no read,
 * can.
 */
import { isDeepStrictEqual } from 'node:util'
import type { PageType, ReadName } from './workload.js'
import { READ_NAMES } from './workload.js'

/** A GET against the last answer to its URL: `first` has none, so no cache could have served it. */
export type Verdict = 'first' | 'changed' | 'unchanged'

export interface Response {
  status: number
  body: unknown
}

/** The last uncached answer to each URL: what a cache that is never stale would have to equal. */
export class LastAnswers {
  private readonly last = new Map<string, Response>()

  /** Judges the answer against the last one to the same URL, then remembers it in its place. */
  observe(path: string, answer: Response): Verdict {
    const last = this.last.get(path)
    this.last.set(path, { status: answer.status, body: answer.body })
    if (!last) return 'first'
    return last.status === answer.status && isDeepStrictEqual(last.body, answer.body) ? 'unchanged' : 'changed'
  }

  get size(): number {
    return this.last.size
  }
}

/**
 * One GET of a run, kept whole so that runs can be compared GET by GET: the sequence is seeded,
 * so `request` names the same GET in every cache variant of a mix (and on both backends).
 */
export interface EditorialGet {
  /** Position among the run's requests, saves included. */
  request: number
  path: string
  name: ReadName
  page: PageType
  verdict: Verdict
  /** Read calls that reached the database adapter during this GET, uncached and beneath the cache. */
  plainReads: number
  cachedReads: number
  hits: number
  lookups: number
  stale: boolean
}

export interface Efficiency {
  /** Repeat GETs whose answer had not changed: the oracle's "no database read needed". */
  unchanged: number
  /** Of them, those the cache served with no read reaching the database. */
  served: number
}

export const efficiencyShare = (e: Efficiency): number => (e.unchanged === 0 ? 0 : e.served / e.unchanged)

/** Efficiency over a run's GETs, overall and per kind of page. */
export function efficiency(gets: readonly EditorialGet[]): { all: Efficiency; byRead: Record<ReadName, Efficiency> } {
  const all: Efficiency = { unchanged: 0, served: 0 }
  const byRead = Object.fromEntries(READ_NAMES.map((name) => [name, { unchanged: 0, served: 0 }])) as Record<ReadName, Efficiency>
  for (const get of gets) {
    if (get.verdict !== 'unchanged') continue
    // Any read beneath the cache counts against it, a population read as much as the main one.
    const served = get.cachedReads === 0 ? 1 : 0
    for (const into of [all, byRead[get.name]]) {
      into.unchanged++
      into.served += served
    }
  }
  return { all, byRead }
}

/**
 * Two runs of the same sequence GET by GET (a variant before and after a change): of the GETs
 * both judged unchanged, those only one of them served with no database read. `unmatched`
 * counts GETs where the runs disagree on the URL or the verdict, which a seeded sequence should
 * never produce; a non-zero count means the runs are not comparable this way.
 */
export function compareGets(
  before: readonly EditorialGet[],
  after: readonly EditorialGet[],
): { gained: number; lost: number; unmatched: number } {
  const byRequest = new Map(before.map((get) => [get.request, get]))
  let gained = 0
  let lost = 0
  let unmatched = 0
  for (const b of after) {
    const a = byRequest.get(b.request)
    byRequest.delete(b.request)
    if (!a || a.path !== b.path || a.verdict !== b.verdict) {
      unmatched++
      continue
    }
    if (b.verdict !== 'unchanged') continue
    if (a.cachedReads > 0 && b.cachedReads === 0) gained++
    if (a.cachedReads === 0 && b.cachedReads > 0) lost++
  }
  return { gained, lost, unmatched: unmatched + byRequest.size }
}
