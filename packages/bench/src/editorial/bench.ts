/**
 * Section 1's editorial workload on both backends: every write mix against every cache
 * variant, each on a freshly seeded database and an empty cache.
 */
import { rmSync, writeFileSync } from 'node:fs'
import type { PostgresServer } from '@pkc/testkit'
import type { KVNamespaceLike } from 'payload-kv-cache'
import type { BenchWorker } from '../d1.js'
import { schemaD1, startWorker } from '../d1.js'
import { editorialD1 } from './d1.js'
import type { CacheVariant } from './postgres.js'
import { editorialPostgres } from './postgres.js'
import type { EditorialResult } from './run.js'
import { runEditorial } from './run.js'
import type { EditorialIds } from './seed.js'
import { EDITORIAL_MIXES } from './workload.js'

export type Backend = 'Postgres (Node)' | 'D1 (workerd)'

export interface NamedVariant extends CacheVariant {
  /** How the report names it: the strategy, and for stamps whether list precision is on. */
  label: string
}

/**
 * Before and after list precision side by side: the stamp strategy with it off (every write
 * to a collection invalidates its lists) and on, and the prefix strategy, which ignores it.
 */
export const EDITORIAL_VARIANTS: readonly NamedVariant[] = [
  { label: 'stamp, listPrecision off', invalidation: 'stamp', listPrecision: false },
  { label: 'stamp, listPrecision on', invalidation: 'stamp', listPrecision: true },
  { label: 'prefix', invalidation: 'prefix', listPrecision: false },
]

export interface EditorialRun {
  backend: Backend
  variant: NamedVariant
  result: EditorialResult
}

const mixLabel = (share: number) => `${(share * 100).toFixed(share < 0.01 ? 1 : 0)} %`

export async function editorialOnPostgres(
  postgres: PostgresServer,
  kv: KVNamespaceLike,
  requests: number,
  log: (line: string) => void,
): Promise<EditorialRun[]> {
  const runs: EditorialRun[] = []
  for (const share of EDITORIAL_MIXES) {
    for (const [v, variant] of EDITORIAL_VARIANTS.entries()) {
      log(`  editorial, Postgres, ${mixLabel(share)} writes, ${variant.label}`)
      // A prefix of its own per run: runs share one KV namespace and must not see each other's entries.
      const target = await editorialPostgres(postgres, kv, variant, `ed-pg-${share * 1000}-${v}`)
      try {
        runs.push({ backend: 'Postgres (Node)', variant, result: await runEditorial(target, share, requests, (line) => log(`  ${line}`)) })
      } finally {
        await target.close()
      }
    }
  }
  return runs
}

export async function editorialOnD1(bundle: string, requests: number, log: (line: string) => void): Promise<EditorialRun[]> {
  const schema = await schemaD1('editorial')
  const runs: EditorialRun[] = []
  try {
    for (const share of EDITORIAL_MIXES) {
      for (const variant of EDITORIAL_VARIANTS) {
        log(`  editorial, D1, ${mixLabel(share)} writes, ${variant.label}`)
        const worker: BenchWorker<EditorialIds> = await startWorker<EditorialIds>(bundle, schema, {
          strategy: variant.invalidation,
          listPrecision: variant.listPrecision,
          site: 'editorial',
        })
        try {
          runs.push({
            backend: 'D1 (workerd)',
            variant,
            result: await runEditorial(editorialD1(worker), share, requests, (line) => log(`  ${line}`)),
          })
        } finally {
          await worker.dispose()
        }
      }
    }
  } finally {
    rmSync(schema, { recursive: true, force: true })
  }
  return runs
}

/**
 * Every GET (and save) of every run, one JSON line per run: what a later run of other code (before and
 * after a change to precision) is compared with GET by GET (`compareGets` in oracle.ts), since
 * BENCHMARKS.md keeps only the totals.
 */
export function writePerGet(file: string, runs: readonly EditorialRun[]): void {
  const lines = runs.map((run) =>
    JSON.stringify({
      backend: run.backend,
      writeShare: run.result.writeShare,
      variant: run.variant.label,
      requests: run.result.requests,
      gets: run.result.perGet,
      writes: run.result.perWrite,
    }),
  )
  writeFileSync(file, `${lines.join('\n')}\n`)
}
