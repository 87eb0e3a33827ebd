/**
 * Starts the website: embedded Postgres (or DATABASE_URL's server), a fresh database seeded
 * with the magazine and an admin user, then Next.js on it, serving Payload's admin and the
 * front end with payload-kv-cache on (or off). Used by `pnpm website` (serve.ts), the browser
 * test and the bench's admin section (packages/bench/src/admin).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { postgresAdapter } from '@payloadcms/db-postgres'
import { seed } from '@pkc-examples/magazine/seed'
import { closePayload, startPostgres } from '@pkc/testkit'
import { getPayload } from 'payload'
import { ADMIN_USER, EDITOR_USER, websiteConfig } from './config.js'

export interface WebsiteOptions {
  /**
   * `dev`: `next dev`, pages compiled on first visit. `production`: `next build` then `next start`.
   * `start`: `next start` on the build already in .next (to rerun the browser test without rebuilding).
   */
  mode: 'dev' | 'production' | 'start'
  port: number
  /**
   * Create the admin and editor users (default). The browser test passes false and creates
   * the first user through the admin's create-first-user form, as a new site's owner does.
   */
  seedUsers?: boolean
  /**
   * Serve through payload-kv-cache (default), or on the plain adapter (`PKC_WEBSITE_CACHE=off`
   * in Next's environment): the bench's uncached side, the same build over its own database.
   */
  cache?: boolean
  /** Progress lines: the database, the seed, Next's output. */
  log?: (line: string) => void
}

export interface Website {
  url: string
  admin: typeof ADMIN_USER
  editor: typeof EDITOR_USER
  /** The site's database, for a test that writes behind the cache's back. */
  databaseUri: string
  /** Milliseconds spent in each step (seed, build, start), for the test's wall-time report. */
  timings: Record<string, number>
  /** Resolves with Next's exit code if the server stops on its own (a crash, a kill). */
  exited: Promise<number | null>
  stop(): Promise<void>
}

const appDir = fileURLToPath(new URL('..', import.meta.url))
const nextBin = createRequire(import.meta.url).resolve('next/dist/bin/next')

export async function startWebsite(options: WebsiteOptions): Promise<Website> {
  const { mode, port, seedUsers = true, cache = true, log = () => undefined } = options
  const timings: Record<string, number> = {}
  let step = performance.now()
  const lap = (name: string) => {
    timings[name] = Math.round(performance.now() - step)
    step = performance.now()
  }

  const server = await startPostgres({ log, directoryPrefix: 'pkc-website-pg-' })
  const children: ChildProcess[] = []
  const stop = async () => {
    // Next and the workerd Miniflare started inside it share the process group spawn() gave them.
    for (const child of children) if (child.exitCode === null && child.pid) killGroup(child.pid)
    await Promise.all(
      children.map((child) => (child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : Promise.resolve())),
    )
    await server.stop()
  }
  try {
    const databaseUri = server.external ? server.url : await server.createDatabase('website')
    // The schema push and the seed go through the bare adapter, in this process: `next start`
    // runs in production mode, where Payload does not push the schema. Next's KV starts empty.
    // A process can start several websites (the bench serves one cached and one uncached):
    // each seed needs its own Payload (getPayload hands back the cached one for a key it has
    // seen) and its own push (drizzle skips one whose schema equals the last it pushed).
    const forcePush = process.env.PAYLOAD_FORCE_DRIZZLE_PUSH
    process.env.PAYLOAD_FORCE_DRIZZLE_PUSH = 'true'
    const payload = await getPayload({
      config: websiteConfig(postgresAdapter({ pool: { connectionString: databaseUri } })),
      key: `website-seed-${databaseUri}`,
    }).finally(() => {
      // Not handed on to Next: `next dev` would push on every reload of the config.
      if (forcePush === undefined) delete process.env.PAYLOAD_FORCE_DRIZZLE_PUSH
      else process.env.PAYLOAD_FORCE_DRIZZLE_PUSH = forcePush
    })
    await seed(payload)
    if (seedUsers) {
      await payload.create({ collection: 'users', data: { ...ADMIN_USER } })
      await payload.create({ collection: 'users', data: { ...EDITOR_USER } })
    }
    await closePayload(payload)
    lap('seed')

    const env = {
      ...process.env,
      DATABASE_URI: databaseUri,
      NEXT_TELEMETRY_DISABLED: '1',
      PORT: String(port),
      PKC_WEBSITE_CACHE: cache ? 'on' : 'off',
    }
    const next = (args: string[]) => {
      const child = spawn(process.execPath, ['--no-deprecation', nextBin, ...args], { cwd: appDir, env, detached: true })
      children.push(child)
      child.stdout?.on('data', (chunk: Buffer) => log(chunk.toString().trimEnd()))
      child.stderr?.on('data', (chunk: Buffer) => log(chunk.toString().trimEnd()))
      return child
    }
    if (mode === 'production') {
      const build = next(['build'])
      const code = await new Promise<number | null>((resolve) => build.once('exit', resolve))
      if (code !== 0) throw new Error(`next build exited with ${code}`)
      lap('build')
    }
    const app = next([mode === 'dev' ? 'dev' : 'start', '--port', String(port)])
    const exited = new Promise<number | null>((resolve) => app.once('exit', resolve))
    const url = `http://localhost:${port}`
    await waitForServer(url, app)
    lap('start')
    return { url, admin: ADMIN_USER, editor: EDITOR_USER, databaseUri, timings, exited, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

function killGroup(pid: number) {
  try {
    process.kill(-pid, 'SIGTERM')
  } catch (_error) {
    // Already gone.
  }
}

/** Polls until Next answers (any status), or fails if it exits first. */
async function waitForServer(url: string, child: ChildProcess, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`next exited with ${child.exitCode} before answering`)
    try {
      await fetch(`${url}/api/kv-cache-stats`)
      return
    } catch (_error) {
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }
  throw new Error(`next did not answer on ${url} within ${timeoutMs} ms`)
}
