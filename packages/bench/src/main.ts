/**
 * `pnpm bench`: every section in one run, side by side, then BENCHMARKS.md at the
 * repository root and its charts. Run with `--expose-gc` (the package script does).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { startKV, startPostgres } from '@pkc/testkit'
import { ADMIN_MARKERS, adminHeadline, renderAdmin } from './admin/report.js'
import { runAdmin } from './admin/run.js'
import { barChart } from './chart.js'
import { buildWorker, schemaD1, startWorker } from './d1.js'
import { d1Target, workerBurst, workerState } from './d1-target.js'
import type { EditorialRun } from './editorial/bench.js'
import { editorialOnD1, editorialOnPostgres, writePerGet } from './editorial/bench.js'
import { editorialHeadline, renderEditorial, spliceEditorial } from './editorial/report.js'
import { measureInvalidation } from './invalidation.js'
import { measureCodec, measureKeys } from './keys-codec.js'
import { measureLatency, measureWrites } from './latency.js'
import type { WriteMix } from './load.js'
import { MIX_LABEL, runLoad, steps } from './load.js'
import { machine } from './machine.js'
import { between, splice } from './markdown.js'
import { footprint, gcAvailable, heapUsed } from './memory.js'
import { postgresPair, postgresTarget } from './postgres-target.js'
import type { Figures, LatencyFigures, LoadRun, MemoryRun } from './report.js'
import { headline, keysSection, latencyChart, latencySection, loadChart, render, spliceKeysCodec, spliceLatency } from './report.js'
import { renderSection } from './markdown.js'

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000)
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 150)
/** Writes per cached instance in section 2's eventual-against-strong comparison. */
const WRITES = 20
const BURST = 240
/** Entries in the written scope for section 4; `BENCH_SCOPE_SIZES=100,1000` for a quick run. */
const SCOPE_SIZES = (process.env.BENCH_SCOPE_SIZES ?? '100,1000,10000').split(',').map(Number)
/**
 * `editorial`: only section 1b's workload; `admin`: only section 1c, the editor session in a
 * browser; `latency`: only section 2; `keys-codec`: only section 3 (a minute). Each is
 * replaced in place in BENCHMARKS.md, the rest staying as it was.
 */
const ONLY = process.env.BENCH_ONLY
/** With BENCH_ONLY=admin: editor sessions per server (each round another topic's posts). */
const ADMIN_ROUNDS = Number(process.env.BENCH_ADMIN_ROUNDS ?? 4)
/** With BENCH_ONLY=editorial: the backends to run it on, `postgres`, `d1` or both (the default). */
const BACKENDS = new Set((process.env.BENCH_BACKENDS ?? 'postgres,d1').split(',').map((name) => name.trim()))
/** A file to write every GET of section 1b to, one JSON line per run, for comparing runs GET by GET. */
const PER_GET_FILE = process.env.BENCH_EDITORIAL_GETS
const root = join(import.meta.dirname, '../../..')
const chartsDir = join(import.meta.dirname, '../charts')

/** The workload runs of section 1, on each backend. The 0.5 % row shows what the hot scope's invalidation costs. */
const RUNS: Array<{ mix: WriteMix; strategy: 'stamp' | 'prefix' }> = [
  { mix: 'workload', strategy: 'stamp' },
  { mix: 'workload', strategy: 'prefix' },
  { mix: 'tenth', strategy: 'stamp' },
]

const log = (line: string) => process.stdout.write(`${line}\n`)
const started = performance.now()
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`

/** Section 1b alone: the editorial workload on the chosen backends, spliced into BENCHMARKS.md. */
async function editorialOnly(): Promise<void> {
  const runs: EditorialRun[] = []
  if (BACKENDS.has('postgres')) {
    log(`[${elapsed()}] editorial on Postgres (${REQUESTS} requests a run)`)
    const postgres = await startPostgres({ log: (line) => log(`  ${line}`) })
    const kvServer = await startKV()
    try {
      runs.push(...(await editorialOnPostgres(postgres, kvServer.kv, REQUESTS, log)))
    } finally {
      await kvServer.dispose()
      await postgres.stop()
    }
  }
  if (BACKENDS.has('d1')) {
    log(`[${elapsed()}] editorial on D1 in workerd: building the Worker`)
    const bundle = buildWorker()
    try {
      runs.push(...(await editorialOnD1(bundle, REQUESTS, log)))
    } finally {
      rmSync(dirname(bundle), { recursive: true, force: true })
    }
  }
  const file = join(root, 'BENCHMARKS.md')
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
  const section = renderEditorial(runs, { requests: REQUESTS, alone: { date, seconds: (performance.now() - started) / 1000 } })
  writeFileSync(file, spliceEditorial(readFileSync(file, 'utf8'), section))
  log(`[${elapsed()}] wrote section 1b of BENCHMARKS.md`)
  if (PER_GET_FILE) writePerGetTo(PER_GET_FILE, runs)
  for (const line of editorialHeadline(runs)) log(`  ${line}`)
}

function writePerGetTo(file: string, runs: EditorialRun[]): void {
  writePerGet(file, runs)
  log(`[${elapsed()}] wrote every GET of section 1b to ${file}`)
}

/** The section 3 microbenchmarks: one setting for the full run and a run of them alone. */
const MICRO = { batches: 11, batchMs: 30, warmupMs: 300 }

/** Section 3 alone: key derivation and the value codec, spliced into BENCHMARKS.md. */
function keysCodecOnly(): void {
  log(`[${elapsed()}] key derivation and codec`)
  const keys = measureKeys(MICRO)
  const codec = measureCodec(MICRO)
  const file = join(root, 'BENCHMARKS.md')
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
  const section = renderSection(
    keysSection({ machine: machine(), keys, codec, alone: { date, seconds: (performance.now() - started) / 1000 } }),
  )
  writeFileSync(file, spliceKeysCodec(readFileSync(file, 'utf8'), section))
  log(`[${elapsed()}] wrote section 3 of BENCHMARKS.md`)
  for (const c of codec) {
    log(
      `  ${c.documents} documents: encode ${(c.encode / c.jsonStringify).toFixed(2)}x JSON.stringify, decode ${(c.decode / c.jsonParse).toFixed(2)}x JSON.parse, ${c.bytes} bytes`,
    )
  }
}

/** Section 2 alone: the bench Worker's latency and writes, spliced into BENCHMARKS.md with its chart. */
async function latencyOnly(): Promise<void> {
  log(`[${elapsed()}] hit latency in workerd: building the Worker and the schema`)
  const bundle = buildWorker()
  const schema = await schemaD1()
  let figures: LatencyFigures
  try {
    figures = { machine: machine(), samples: SAMPLES, ...(await latencyInWorker(bundle, schema)) }
  } finally {
    rmSync(dirname(bundle), { recursive: true, force: true })
    rmSync(schema, { recursive: true, force: true })
  }
  mkdirSync(chartsDir, { recursive: true })
  const chart = join(chartsDir, 'latency-p50.svg')
  writeFileSync(chart, barChart(latencyChart(figures)))
  const file = join(root, 'BENCHMARKS.md')
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
  const section = renderSection(latencySection(figures, relative(root, chart), { date, seconds: (performance.now() - started) / 1000 }))
  writeFileSync(file, spliceLatency(readFileSync(file, 'utf8'), section))
  log(`[${elapsed()}] wrote section 2 of BENCHMARKS.md`)
}

/** Section 2's figures: a fresh Worker with the origin model at 20 ms; reads first, then writes. */
async function latencyInWorker(bundle: string, schema: string): Promise<Pick<Figures, 'latency' | 'writes'>> {
  log(`  [${elapsed()}] hit latency (${SAMPLES} samples per GET and variant), then ${WRITES} writes per cached instance`)
  const worker = await startWorker(bundle, schema, { strategy: 'stamp', originDelayMs: 20 })
  try {
    const latency = await measureLatency(worker, SAMPLES, (line) => log(`  ${line}`))
    const writes = await measureWrites(worker, WRITES)
    log(
      `    writes p50: eventual ${writes.eventual.p50.toFixed(2)} ms, strong ${writes.strong.p50.toFixed(2)} ms (${writes.bumps.strong} DO calls each)`,
    )
    return { latency, writes }
  } finally {
    await worker.dispose()
  }
}

/**
 * Section 1c alone: the website built and served cached and uncached, the editor session in
 * Chromium against both. Not part of the full run, which would need Chromium and a Next build
 * on every machine that benches; the full run keeps this section as the last run wrote it.
 */
async function adminOnly(): Promise<void> {
  log(`[${elapsed()}] admin: the website, cached and uncached, ${ADMIN_ROUNDS} editor sessions each`)
  // BENCH_REUSE_BUILD=1 serves the build an earlier run left in examples/website/.next.
  const run = await runAdmin({ rounds: ADMIN_ROUNDS, reuseBuild: process.env.BENCH_REUSE_BUILD === '1', log })
  const file = join(root, 'BENCHMARKS.md')
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
  writeFileSync(
    file,
    splice(readFileSync(file, 'utf8'), ADMIN_MARKERS, renderAdmin(run, { date, seconds: (performance.now() - started) / 1000 })),
  )
  log(`[${elapsed()}] wrote section 1c of BENCHMARKS.md`)
  for (const line of adminHeadline(run)) log(`  ${line}`)
}

async function main(): Promise<void> {
  if (ONLY === 'editorial') return editorialOnly()
  if (ONLY === 'admin') return adminOnly()
  if (ONLY === 'keys-codec') return keysCodecOnly()
  if (ONLY === 'latency') return latencyOnly()
  if (ONLY !== undefined)
    throw new Error(`BENCH_ONLY=${ONLY}: the sections that run alone are 'editorial', 'admin', 'latency' and 'keys-codec'`)
  if (!gcAvailable()) log('warning: run with --expose-gc (pnpm bench does): heap figures will include garbage')
  const load: LoadRun[] = []
  const memory: MemoryRun[] = []
  const editorial: EditorialRun[] = []

  log(`[${elapsed()}] Postgres: section 1 (${REQUESTS} requests a run), then section 4`)
  const postgres = await startPostgres({ log: (line) => log(`  ${line}`) })
  const kvServer = await startKV()
  let invalidation: Figures['invalidation']
  try {
    const { kv } = kvServer
    for (const { mix, strategy } of RUNS) {
      log(`  [${elapsed()}] Postgres, ${MIX_LABEL[mix]}, ${strategy}`)
      const pair = await postgresPair(postgres, kv, { invalidation: strategy, prefix: `pg-${strategy}-${mix}` })
      const target = await postgresTarget(pair)
      try {
        const heapBefore = heapUsed()
        const result = await runLoad(target, steps(pair.ids, REQUESTS, mix), (line) => log(`  ${line}`))
        load.push({ backend: 'Postgres (Node)', mix, strategy, result })
        memory.push({
          label: `Postgres, ${mix === 'workload' ? '5 %' : '0.5 %'} writes, ${strategy}`,
          heapBefore,
          heapAfter: heapUsed(),
          footprint: footprint(pair.cached),
        })
      } finally {
        await target.close()
        await pair.stop()
      }
    }
    log(`  [${elapsed()}] editorial workload`)
    editorial.push(...(await editorialOnPostgres(postgres, kv, REQUESTS, log)))
    log(`  [${elapsed()}] invalidation cost`)
    invalidation = await measureInvalidation(
      postgres,
      kv,
      SCOPE_SIZES,
      (n) => (n >= 10_000 ? 1 : 3),
      (line) => log(`  ${line}`),
    )
  } finally {
    await kvServer.dispose()
    await postgres.stop()
  }

  // Alone on the machine's share of CPU: nothing else of ours runs meanwhile.
  log(`[${elapsed()}] key derivation and codec`)
  const keys = measureKeys(MICRO)
  const codec = measureCodec(MICRO)

  const { latency, writes, burst } = await workerdSections(load, memory, editorial)

  const figures: Figures = {
    machine: machine(),
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    seconds: (performance.now() - started) / 1000,
    requests: REQUESTS,
    samples: SAMPLES,
    load,
    editorial,
    latency,
    writes,
    keys,
    codec,
    invalidation,
    memory,
    burst,
    gc: gcAvailable(),
  }
  mkdirSync(chartsDir, { recursive: true })
  const charts = { load: join(chartsDir, 'database-reads.svg'), latency: join(chartsDir, 'latency-p50.svg') }
  writeFileSync(charts.load, barChart(loadChart(figures)))
  writeFileSync(charts.latency, barChart(latencyChart(figures)))
  const file = join(root, 'BENCHMARKS.md')
  const rendered = render(figures, { load: relative(root, charts.load), latency: relative(root, charts.latency) })
  // Section 1c runs only alone (BENCH_ONLY=admin): keep what its last run wrote.
  const admin = between(readFileSync(file, 'utf8'), ADMIN_MARKERS)
  writeFileSync(file, admin ? splice(rendered, ADMIN_MARKERS, admin) : rendered)
  log(`[${elapsed()}] wrote BENCHMARKS.md`)
  if (PER_GET_FILE) writePerGetTo(PER_GET_FILE, editorial)
  for (const line of [...headline(figures), ...editorialHeadline(editorial)]) log(`  ${line}`)
}

/** Sections 1, 1b and 5 on D1, and section 2: the bench Worker in Miniflare. */
async function workerdSections(
  load: LoadRun[],
  memory: MemoryRun[],
  editorial: EditorialRun[],
): Promise<Pick<Figures, 'latency' | 'writes' | 'burst'>> {
  log(`[${elapsed()}] D1 in workerd: building the Worker and the schema`)
  const bundle = buildWorker()
  const schema = await schemaD1()
  try {
    let burst: Figures['burst']
    for (const { mix, strategy } of RUNS) {
      log(`  [${elapsed()}] D1, ${MIX_LABEL[mix]}, ${strategy}`)
      const worker = await startWorker(bundle, schema, { strategy })
      try {
        const result = await runLoad(d1Target(worker), steps(worker.ids, REQUESTS, mix), (line) => log(`  ${line}`))
        load.push({ backend: 'D1 (workerd)', mix, strategy, result })
        const state = await workerState(worker)
        memory.push({ label: `D1, ${mix === 'workload' ? '5 %' : '0.5 %'} writes, ${strategy}`, footprint: state.cached?.footprint })
        // Right after the workload's last write: its trailing stamp write may still be
        // pending, which the burst's kvCache.invalidate() must wait out (it once hung here).
        if (!burst && strategy === 'stamp') burst = await workerBurst(worker, BURST)
      } finally {
        await worker.dispose()
      }
    }
    log(`  [${elapsed()}] editorial workload`)
    editorial.push(...(await editorialOnD1(bundle, REQUESTS, log)))
    return { ...(await latencyInWorker(bundle, schema)), burst }
  } finally {
    rmSync(dirname(bundle), { recursive: true, force: true })
    rmSync(schema, { recursive: true, force: true })
  }
}

main().then(
  // Payload's Postgres pools keep a client checked out: leave rather than wait on them.
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exit(1)
  },
)
