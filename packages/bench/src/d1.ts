/**
 * The bench Worker under Miniflare, as examples/cloudflare-d1/test/worker.test.ts runs the
 * example: the bundle wrangler builds, a local D1 whose tables and content were written from
 * Node (drizzle-kit cannot push inside workerd), and KV.
 */
import { execFileSync } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import { sqliteD1Adapter } from '@payloadcms/db-d1-sqlite'
import type { Ids } from '@pkc-examples/magazine'
import { siteConfig } from '@pkc-examples/magazine/config'
import type { DatabaseAdapterObj } from 'payload'
import { Miniflare } from 'miniflare'
import { getPayload } from 'payload'
import { getPlatformProxy } from 'wrangler'
import { editorialConfig } from './editorial/config.js'

/** The site the Worker serves: the magazine (section 1's first workload, sections 2 and 5) or the editorial site. */
export type Site = 'magazine' | 'editorial'
const configOf = (site: Site, db: DatabaseAdapterObj) => (site === 'editorial' ? editorialConfig(db) : siteConfig(db))

export const benchRoot = join(import.meta.dirname, '..')
const wranglerConfig = join(benchRoot, 'wrangler.jsonc')
export const quietEnv = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' }
process.env.WRANGLER_SEND_METRICS = 'false'
process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false'

/**
 * Builds the Worker bundle into a temporary directory; returns the module's path. Another
 * config builds another Worker; wrangler names the module after the config's `main`.
 */
export function buildWorker(config = wranglerConfig, module = 'index.js'): string {
  const outdir = mkdtempSync(join(tmpdir(), 'pkc-bench-worker-'))
  execFileSync(join(benchRoot, 'node_modules/.bin/wrangler'), ['deploy', '--dry-run', '--outdir', outdir, '--config', config], {
    cwd: benchRoot,
    env: quietEnv,
    stdio: 'pipe',
  })
  return join(outdir, module)
}

/**
 * Pushes the schema once into a D1 state directory; each run starts from a copy. Seeding
 * happens inside the Worker (`/bench/seed`): through the Node proxy it takes half a minute.
 */
export async function schemaD1(site: Site = 'magazine'): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'pkc-bench-d1-'))
  const platform = await getPlatformProxy<{ D1: Parameters<typeof sqliteD1Adapter>[0]['binding'] }>({
    configPath: wranglerConfig,
    persist: { path: dir },
  })
  try {
    const payload = await getPayload({
      config: configOf(site, sqliteD1Adapter({ binding: platform.env.D1 })),
      key: `bench-d1-schema-${site}`,
      cron: false,
    })
    await payload.db.destroy?.()
    return dir
  } finally {
    await platform.dispose()
  }
}

export interface WorkerOptions {
  strategy: 'stamp' | 'prefix'
  originDelayMs?: number
  /** Default 'magazine'. */
  site?: Site
  /** The cached instances' `listPrecision` (the stamp strategy's); default the library's. */
  listPrecision?: boolean
}

/** A fresh copy of the seeded D1 and an empty KV, with the bench Worker in front. */
export interface BenchWorker<I = Ids> {
  mf: Miniflare
  /** What `/bench/seed` answered: the magazine's `Ids`, or the editorial site's. */
  ids: I
  dispose(): Promise<void>
}

/** A copy of the schema-only D1, seeded with the site, and an empty KV, behind the bench Worker. */
export async function startWorker<I = Ids>(bundle: string, schemaDir: string, options: WorkerOptions): Promise<BenchWorker<I>> {
  const state = mkdtempSync(join(tmpdir(), 'pkc-bench-run-'))
  cpSync(schemaDir, state, { recursive: true })
  const mf = new Miniflare({
    // Listed, not discovered: Miniflare cannot follow Payload's computed dynamic imports.
    modules: [{ type: 'ESModule', path: bundle }],
    modulesRoot: dirname(bundle),
    compatibilityDate: '2026-04-20',
    compatibilityFlags: ['nodejs_compat'],
    d1Databases: { D1: 'local-payload' },
    kvNamespaces: { CACHE: 'local-cache' },
    // The class the bundle exports (worker/index.ts), for the strong variants' stamps; in memory.
    durableObjects: { KV_CACHE_STAMPS: 'KVCacheStamps' },
    d1Persist: join(state, 'd1'),
    bindings: {
      STRATEGY: options.strategy,
      ORIGIN_DELAY_MS: String(options.originDelayMs ?? 20),
      SITE: options.site ?? 'magazine',
      ...(options.listPrecision === undefined ? {} : { LIST_PRECISION: String(options.listPrecision) }),
    },
    cf: false,
    // Payload's start-up notices from inside the Worker; BENCH_VERBOSE=1 shows them.
    handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
      if (process.env.BENCH_VERBOSE) {
        stdout.pipe(process.stdout)
        stderr.pipe(process.stderr)
      } else {
        stdout.resume()
        stderr.resume()
      }
    },
  })
  const seeded = await mf.dispatchFetch('http://localhost/bench/seed', { method: 'POST' })
  if (seeded.status !== 200) throw new Error(`seeding the Worker's D1 failed: ${await seeded.text()}`)
  const ids = (await seeded.json()) as I
  return {
    mf,
    ids,
    dispose: async () => {
      await mf.dispose()
      rmSync(state, { recursive: true, force: true })
    },
  }
}
