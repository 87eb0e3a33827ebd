import { afterAll, beforeAll, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { BenchWorker } from '../src/d1.js'
import { benchRoot, buildWorker, quietEnv, startWorker } from '../src/d1.js'

/**
 * A workerd-only failure the benchmarks found: workerd cancels a request as hung when all it
 * waits on is work another request's context will finish. More writes to one collection
 * within a second than its stamp has slots leave the last one's trailing stamp write pending
 * in its `waitUntil`; a
 * following request's `kvCache.invalidate()` must wait that write out, and did so with
 * nothing of its own pending.
 */
let bundle: string
let schema: string
let worker: BenchWorker

beforeAll(async () => {
  bundle = buildWorker()
  const printed = execFileSync(join(benchRoot, 'node_modules/.bin/tsx'), ['src/schema-cli.ts'], {
    cwd: benchRoot,
    env: quietEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  schema = printed.toString().trim().split('\n').at(-1)!
  worker = await startWorker(bundle, schema, { strategy: 'stamp' })
}, 240_000)

afterAll(async () => {
  await worker?.dispose()
  if (bundle) rmSync(dirname(bundle), { recursive: true, force: true })
  if (schema) rmSync(schema, { recursive: true, force: true })
})

it('kvCache.invalidate() in a request waits out a trailing stamp write an earlier request left pending, instead of being cancelled as hung', async () => {
  const id = worker.ids.posts[0]
  for (const views of [1, 2, 3, 4]) {
    const written = await worker.mf.dispatchFetch(`http://localhost/bench/write?id=${id}&views=${views}`, { method: 'POST' })
    expect(await written.text()).toBe('ok')
  }
  // The burst endpoint invalidates posts, then reads them concurrently.
  const response = await worker.mf.dispatchFetch('http://localhost/bench/burst?n=10', { method: 'POST' })
  const body = await response.text()
  expect(body).not.toMatch(/hung/)
  expect(response.status).toBe(200)
  expect((JSON.parse(body) as { calls: number }).calls).toBe(10)
})
