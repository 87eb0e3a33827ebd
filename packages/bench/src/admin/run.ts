/**
 * The admin section's run: the website built once, served twice over two freshly seeded
 * databases (through payload-kv-cache, and on the plain adapter), and the scripted editor
 * session run against each in turn, round after round, in one Chromium. Every step's
 * database calls and cache lookups are the difference of the server's counters before and
 * after it, read once the browser has gone quiet.
 */
import { freePort, launchChromium } from 'example-website/browser'
import type { Website } from 'example-website/site'
import { startWebsite } from 'example-website/site'
import { lookupsOf } from '@pkc/testkit/stats'
import type { CacheStatsBreakdown } from 'payload-kv-cache'
import type { Browser } from 'playwright-core'
import { breakdownSince, readsSince } from './counters.js'
import type { Probe } from './probe.js'
import { probe } from './probe.js'
import { trackRequests } from './quiet.js'
import type { SessionContext, StepKind } from './session.js'
import { SESSION } from './session.js'

export interface StepSample {
  name: string
  kind: StepKind
  round: number
  dbReads: number
  dbWrites: number
  /** Cache lookups answered from KV, and all lookups (`lookupsOf`): zero on the uncached server. */
  hits: number
  lookups: number
  /** From the step's first browser call until its page or toast was there (not the quiet wait after). */
  ms: number
}

export interface AdminVariant {
  cache: boolean
  samples: StepSample[]
  /** Each session's wall time, steps and quiet waits included. */
  sessionMs: number[]
  /** Over all sessions: reads that reached Postgres by operation and scope (`find posts`). */
  readsBy: Record<string, number>
  /** Over all sessions, on the cached server: the cache's own counters. */
  breakdown: CacheStatsBreakdown | null
}

export interface AdminRun {
  rounds: number
  variants: [AdminVariant, AdminVariant]
  /** Milliseconds: the build (0 when an earlier build was reused), each server's start. */
  timings: Record<string, number>
}

export interface AdminOptions {
  rounds: number
  /** Serve the build an earlier run left in examples/website/.next instead of building. */
  reuseBuild: boolean
  log: (line: string) => void
}

async function session(browser: Browser, site: Website, round: number, variant: AdminVariant, log: (line: string) => void): Promise<void> {
  const editor = await browser.newContext({ viewport: { width: 1400, height: 900 } })
  const reader = await browser.newContext()
  const quiet = [trackRequests(editor), trackRequests(reader)]
  const s: SessionContext = { url: site.url, user: site.admin, admin: await editor.newPage(), reader, round }
  const started = performance.now()
  try {
    let before = await probe(site.url)
    for (const step of SESSION) {
      const t0 = performance.now()
      await step.run(s)
      const ms = performance.now() - t0
      // Not quiet in time: the step's late requests are counted with the next step. Said, not hidden.
      for (const q of quiet) if (!(await q.wait())) log(`    ${step.name}: the browser was still busy after 15 s`)
      const after = await probe(site.url)
      variant.samples.push({ name: step.name, kind: step.kind, round, ms, ...delta(before, after) })
      before = after
    }
  } finally {
    await editor.close()
    await reader.close()
  }
  variant.sessionMs.push(performance.now() - started)
}

function delta(before: Probe, after: Probe): Pick<StepSample, 'dbReads' | 'dbWrites' | 'hits' | 'lookups'> {
  const b = before.stats
  const a = after.stats
  return {
    dbReads: after.database.reads - before.database.reads,
    dbWrites: after.database.writes - before.database.writes,
    hits: a && b ? a.hits - b.hits : 0,
    lookups: a && b ? lookupsOf(a) - lookupsOf(b) : 0,
  }
}

export async function runAdmin(options: AdminOptions): Promise<AdminRun> {
  const { rounds, log } = options
  const timings: Record<string, number> = {}
  const quietLog = (prefix: string) => (line: string) => {
    // Next's start banner and the seed's progress: enough to see where a slow start is.
    for (const part of line.split('\n')) if (part.trim()) log(`  ${prefix} ${part}`)
  }
  log(`  cached website: ${options.reuseBuild ? 'next start on the existing build' : 'next build, then next start'}`)
  const cached = await startWebsite({
    mode: options.reuseBuild ? 'start' : 'production',
    port: await freePort(),
    log: quietLog('[cached]'),
  })
  let plain: Website | undefined
  let browser: Browser | undefined
  try {
    timings.build = cached.timings.build ?? 0
    timings['cached start'] = cached.timings.start ?? 0
    log('  uncached website (the plain adapter): next start on the same build')
    plain = await startWebsite({ mode: 'start', port: await freePort(), cache: false, log: quietLog('[uncached]') })
    timings['uncached start'] = plain.timings.start ?? 0
    browser = await launchChromium()
    const sites: Array<[Website, AdminVariant]> = [
      [plain, { cache: false, samples: [], sessionMs: [], readsBy: {}, breakdown: null }],
      [cached, { cache: true, samples: [], sessionMs: [], readsBy: {}, breakdown: null }],
    ]
    const baselines = await Promise.all(sites.map(([site]) => probe(site.url)))
    for (let round = 1; round <= rounds; round++) {
      // Alternating which goes first, so neither always runs on a machine the other just warmed.
      const order = round % 2 === 1 ? sites : [...sites].reverse()
      for (const [site, variant] of order) {
        log(`  round ${round} of ${rounds}, ${variant.cache ? 'cached' : 'uncached'}`)
        await session(browser, site, round, variant, log)
      }
    }
    for (const [i, [site, variant]] of sites.entries()) {
      const end = await probe(site.url)
      variant.readsBy = readsSince(baselines[i]!, end)
      variant.breakdown = breakdownSince(baselines[i]!, end)
    }
    return { rounds, variants: [sites[0]![1], sites[1]![1]], timings }
  } finally {
    await browser?.close()
    await plain?.stop()
    await cached.stop()
  }
}
