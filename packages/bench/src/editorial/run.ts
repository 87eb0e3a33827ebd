/**
 * Section 1's editorial run: the workload sent to an uncached and a cached instance over one
 * database, every cached answer compared with the uncached one, the figures split by page
 * type, by half of the run and by phase (reads, writes).
 */
import { isDeepStrictEqual } from 'node:util'
import type { Answer } from '../load.js'
import type { Ops, Phase } from '../phased-kv.js'
import type { EditorialGet } from './oracle.js'
import { LastAnswers } from './oracle.js'
import type { EditorialIds } from './seed.js'
import type { PageType } from './workload.js'
import { EditorialWorkload, PAGE_TYPES } from './workload.js'
import type { EditorialWrite, Id, WriteKind } from './writes.js'

/** What one save cost, counted beneath the cache (everything that reached the database). */
export interface WriteAnswer {
  id?: Id
  dbReads: number
  dbWrites: number
}

export interface EditorialTarget {
  ids: EditorialIds
  /** The same GET through the uncached and the cached instance, at the same moment. */
  get(path: string): Promise<{ plain: Answer; cached: Answer }>
  /** An editor's save through the cached instance's Local API. */
  write(write: EditorialWrite): Promise<WriteAnswer>
  /** KV operations of the cached instance so far, charged to reads or writes (phased-kv.ts). */
  kvCounts(): Promise<Record<Phase, Ops>>
  settled(): Promise<void>
}

/** Adapter reads of some GETs: through the uncached instance, and through the cache. */
export interface ReadTally {
  gets: number
  plainReads: number
  cachedReads: number
  hits: number
  lookups: number
}

export interface EditorialResult {
  writeShare: number
  requests: number
  gets: number
  writes: number
  all: ReadTally
  /** The second half of the requests: the steady state, once first reads stop mattering. */
  secondHalf: ReadTally
  /** GETs of a URL already requested in this run: what a site up long enough sees (no first reads). */
  repeats: ReadTally
  /** Repeat GETs whose uncached answer differs from the last uncached answer to that URL: the data really changed. */
  changed: ReadTally
  /** Every GET in order, with the oracle's verdict: what efficiency is computed from (oracle.ts). */
  perGet: EditorialGet[]
  /** Every save in order, between the GETs: what a GET that read the database needlessly followed. */
  perWrite: Array<{ request: number; kind: WriteKind; id?: Id }>
  pages: Record<PageType, ReadTally>
  /** Different URLs among the GETs: each one's first read must reach the database. */
  distinctPaths: number
  writeKinds: Partial<Record<WriteKind, number>>
  /** Database calls the saves made through the cached instance (Payload's own and the cache's). */
  writeDb: { reads: number; writes: number }
  kv: Record<Phase, Ops>
  /** Cached answers that differed from the uncached answer to the same request. */
  stale: number
  staleByPage: Partial<Record<PageType, number>>
  seconds: number
}

const tally = (): ReadTally => ({ gets: 0, plainReads: 0, cachedReads: 0, hits: 0, lookups: 0 })

function add(into: ReadTally, plain: Answer, cached: Answer): void {
  into.gets++
  into.plainReads += plain.dbReads
  into.cachedReads += cached.dbReads
  into.hits += cached.hits
  into.lookups += cached.lookups
}

export async function runEditorial(
  target: EditorialTarget,
  writeShare: number,
  requests: number,
  progress: (line: string) => void,
): Promise<EditorialResult> {
  const workload = new EditorialWorkload(target.ids, writeShare)
  const result: EditorialResult = {
    writeShare,
    requests,
    gets: 0,
    writes: 0,
    all: tally(),
    secondHalf: tally(),
    repeats: tally(),
    changed: tally(),
    perGet: [],
    perWrite: [],
    pages: Object.fromEntries(PAGE_TYPES.map((page) => [page, tally()])) as Record<PageType, ReadTally>,
    distinctPaths: 0,
    writeKinds: {},
    writeDb: { reads: 0, writes: 0 },
    kv: { read: { get: 0, put: 0, delete: 0, list: 0 }, write: { get: 0, put: 0, delete: 0, list: 0 } },
    stale: 0,
    staleByPage: {},
    seconds: 0,
  }
  const last = new LastAnswers()
  const started = performance.now()
  const tick = Math.max(1, Math.ceil(requests / 4))
  for (let i = 0; i < requests; i++) {
    const step = workload.next()
    if (step.kind === 'write') {
      const answer = await target.write(step.write)
      workload.created(answer.id)
      result.perWrite.push({ request: i, kind: step.write.kind, id: 'id' in step.write ? step.write.id : answer.id })
      result.writes++
      result.writeKinds[step.write.kind] = (result.writeKinds[step.write.kind] ?? 0) + 1
      result.writeDb.reads += answer.dbReads
      result.writeDb.writes += answer.dbWrites
    } else {
      const { plain, cached } = await target.get(step.path)
      // The uncached answer is the truth a cache that is never stale must equal.
      const verdict = last.observe(step.path, plain)
      if (verdict !== 'first') add(result.repeats, plain, cached)
      if (verdict === 'changed') add(result.changed, plain, cached)
      result.gets++
      add(result.all, plain, cached)
      add(result.pages[step.page], plain, cached)
      if (i >= requests / 2) add(result.secondHalf, plain, cached)
      const stale = plain.status !== cached.status || !isDeepStrictEqual(plain.body, cached.body)
      result.perGet.push({
        request: i,
        path: step.path,
        name: step.name,
        page: step.page,
        verdict,
        plainReads: plain.dbReads,
        cachedReads: cached.dbReads,
        hits: cached.hits,
        lookups: cached.lookups,
        stale,
      })
      if (stale) {
        result.stale++
        result.staleByPage[step.page] = (result.staleByPage[step.page] ?? 0) + 1
        if (result.stale <= 3) progress(`    MISMATCH on GET ${step.path}`)
      }
    }
    if ((i + 1) % tick === 0 || i + 1 === requests)
      progress(
        `    ${i + 1}/${requests} requests, from KV so far ${((result.all.hits / Math.max(1, result.all.lookups)) * 100).toFixed(1)} %`,
      )
  }
  await target.settled()
  result.kv = await target.kvCounts()
  result.distinctPaths = last.size
  result.seconds = (performance.now() - started) / 1000
  return result
}
