/**
 * What a user installs: `pnpm pack` of this package, added by tarball to a project outside
 * the workspace (its own package.json, Payload and the SQLite adapter from the registry),
 * which type-checks a payload.config.ts using `withKVCache` and makes one cached read.
 * Nothing here reaches into the workspace's node_modules, so a missing file in `files`, a
 * wrong `exports` path or a type that only resolves inside the monorepo fails this test.
 */
import { describe, expect, test } from '@jest/globals'
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const PNPM_VERSION = '10.34.9'
const packageDir = new URL('..', import.meta.url).pathname
// The versions the workspace installs, so the scratch install is served from pnpm's store.
const PAYLOAD = '3.87.1'
const MINIFLARE = '4.20260426.0'
const TYPESCRIPT = '5.9.3'

/** pnpm as `.ci/run` finds it: on the PATH at the pinned version, else through npx. */
async function pnpmCommand(): Promise<string[]> {
  try {
    const { stdout } = await run('pnpm', ['-v'])
    if (stdout.trim() === PNPM_VERSION) return ['pnpm']
  } catch (_error) {
    // Not installed: fall through to npx.
  }
  return ['npx', '--yes', `pnpm@${PNPM_VERSION}`]
}

async function timed<T>(label: string, times: string[], step: () => Promise<T>): Promise<T> {
  const start = performance.now()
  try {
    return await step()
  } finally {
    times.push(`${label} ${((performance.now() - start) / 1000).toFixed(1)} s`)
  }
}

async function exec(command: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  try {
    const { stdout } = await run(command[0]!, command.slice(1), { cwd, env, maxBuffer: 64 * 1024 * 1024 })
    return stdout
  } catch (error) {
    // execFile's error carries the child's output: show it, not only the exit code.
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string }
    throw new Error(`${command.join(' ')} failed in ${cwd}:\n${stdout}\n${stderr}`)
  }
}

const scratchPackage = (tarball: string) => ({
  name: 'pkc-scratch-site',
  private: true,
  type: 'module',
  dependencies: {
    '@payloadcms/db-sqlite': PAYLOAD,
    graphql: '16.15.0',
    miniflare: MINIFLARE,
    payload: PAYLOAD,
    'payload-kv-cache': `file:${tarball}`,
  },
  // Miniflare's declarations import @cloudflare/workers-types without depending on it: without
  // it, getKVNamespace's result is not typed as a KV namespace (the README says so too).
  devDependencies: { '@cloudflare/workers-types': '^4.20260426.1', '@types/node': '^22.10.0', typescript: TYPESCRIPT },
})

// Strict, as a user's site would be; skipLibCheck as Payload's own templates set it.
const scratchTsconfig = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    skipLibCheck: true,
    outDir: 'out',
    types: ['node'],
  },
  include: ['src'],
}

// What the README tells a user to write, with Miniflare's KV as the README's Node section has it.
const payloadConfig = `import { sqliteAdapter } from '@payloadcms/db-sqlite'
import { Miniflare } from 'miniflare'
import { buildConfig } from 'payload'
import { withKVCache } from 'payload-kv-cache'

export const mf = new Miniflare({ modules: true, script: 'export default {}', kvNamespaces: ['CACHE'], cf: false })
const kv = await mf.getKVNamespace('CACHE')

export default buildConfig({
  secret: 'scratch',
  collections: [{ slug: 'posts', fields: [{ name: 'title', type: 'text' }] }],
  db: withKVCache(sqliteAdapter({ client: { url: \`file:\${process.env.SCRATCH_DB}\` } }), { kv }),
  telemetry: false,
  typescript: { autoGenerate: false },
  logger: { options: { level: 'warn' } },
})
`

const runScript = `import { getPayload } from 'payload'
import type { KVCacheHandle } from 'payload-kv-cache'
import { canonicalize } from 'payload-kv-cache/internals'
import config, { mf } from './payload.config.js'

const payload = await getPayload({ config })
await payload.create({ collection: 'posts', data: { title: 'Hello from the tarball' } })
// payload.db.kvCache is typed through the package's module augmentation.
const cache: KVCacheHandle | undefined = payload.db.kvCache
if (!cache) throw new Error('payload.db.kvCache is missing: the adapter is not wrapped')
// Counted from here: the create may make reads of its own.
const before = cache.stats()
const first = await payload.find({ collection: 'posts' })
await cache.settled()
const second = await payload.find({ collection: 'posts' })
const after = cache.stats()
const [hits, misses, fills] = [after.hits - before.hits, after.misses - before.misses, after.fills - before.fills]
console.log(JSON.stringify({ hits, misses, fills, equal: JSON.stringify(first) === JSON.stringify(second), titles: second.docs.map((d) => d['title']), internals: typeof canonicalize }))
await payload.destroy()
await mf.dispose()
process.exit(0)
`

describe('the packed package', () => {
  test('installs from its tarball outside the workspace, type-checks a config and serves a read from KV', async () => {
    const times: string[] = []
    const started = performance.now()
    const pnpm = await pnpmCommand()
    const dir = mkdtempSync(join(tmpdir(), 'pkc-tarball-'))
    try {
      // The library is built by `pnpm test` (and `pnpm build`) before this runs; prepack
      // refuses to pack a missing build rather than rebuild dist under other running tests.
      await timed('pack', times, () => exec([...pnpm, 'pack', '--pack-destination', dir], packageDir))
      const tarball = readdirSync(dir).find((name) => name.endsWith('.tgz'))
      expect(tarball).toMatch(/^payload-kv-cache-\d+\.\d+\.\d+.*\.tgz$/)
      const listing = (await exec(['tar', 'tzf', join(dir, tarball!)], dir)).split('\n')
      for (const file of [
        'README.md',
        'LICENSE',
        'CHANGELOG.md',
        'package.json',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/internals.js',
        'dist/internals.d.ts',
      ]) {
        expect(listing).toContain(`package/${file}`)
      }
      // Tests and build configs stay out of what is published.
      expect(listing.filter((file) => file.startsWith('package/test/') || file.includes('tsconfig'))).toEqual([])

      const site = join(dir, 'site')
      mkdirSync(join(site, 'src'), { recursive: true })
      writeFileSync(join(site, 'package.json'), JSON.stringify(scratchPackage(join(dir, tarball!)), null, 2))
      writeFileSync(join(site, 'tsconfig.json'), JSON.stringify(scratchTsconfig, null, 2))
      writeFileSync(join(site, 'src', 'payload.config.ts'), payloadConfig)
      writeFileSync(join(site, 'src', 'run.ts'), runScript)

      // --prefer-offline: every version here is one the workspace installed, so pnpm's store
      // has it and the registry is asked only for what is missing.
      await timed('install', times, () => exec([...pnpm, 'install', '--prefer-offline', '--config.confirmModulesPurge=false'], site))
      // The type-check is the emit: tsc fails on any type error and writes out/ otherwise.
      await timed('tsc', times, () => exec(['npx', 'tsc', '-p', 'tsconfig.json'], site))
      const output = await timed('run', times, () =>
        exec(['node', 'out/run.js'], site, { ...process.env, NODE_ENV: 'development', SCRATCH_DB: join(site, 'scratch.db') }),
      )
      const result = JSON.parse(output.trim().split('\n').pop()!)
      expect(result).toEqual({ hits: 1, misses: 1, fills: 1, equal: true, titles: ['Hello from the tarball'], internals: 'function' })
    } finally {
      rmSync(dir, { recursive: true, force: true })
      console.log(`tarball test: ${times.join(', ')}; total ${((performance.now() - started) / 1000).toFixed(1)} s`)
    }
  }, 300_000)
})
