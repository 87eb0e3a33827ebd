import { expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'

/**
 * The MongoDB demo end to end, where a server exists (MONGODB_URI). It exits non-zero unless
 * every cached response equalled the uncached one. Without a server the global setup prints
 * the SKIP line and this test is skipped.
 */
const root = join(import.meta.dirname, '..')
const run = process.env.MONGODB_URI ? it : it.skip

run(
  'the demo on MongoDB: every cached response equals the uncached one',
  () => {
    const output = execFileSync(join(root, 'node_modules/.bin/tsx'), ['src/demo.ts'], {
      cwd: root,
      env: { ...process.env, DEMO_REQUESTS: '300', WRANGLER_SEND_METRICS: 'false' },
      encoding: 'utf8',
    })
    expect(output).toMatch(/responses equal to the uncached ones \| - \| (\d+) of \1 \|/)
  },
  300_000,
)
