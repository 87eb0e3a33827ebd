import { Miniflare } from 'miniflare'

/** Miniflare's D1 (what `wrangler dev` runs), in memory: one binding per test database. */
export interface D1Pool {
  /** A D1 database no other test has used. */
  next(): Promise<unknown>
  dispose(): Promise<void>
}

/** Databases one test file may create; one workerd process holds them all. */
const DATABASES = 64

export async function startD1(): Promise<D1Pool> {
  const names = Array.from({ length: DATABASES }, (_, i) => `D1_${i}`)
  const mf = new Miniflare({ modules: true, script: 'export default {}', d1Databases: names, cf: false })
  await mf.ready
  let used = 0
  return {
    async next() {
      if (used >= DATABASES) throw new Error(`more than ${DATABASES} D1 databases in one test file: raise DATABASES in test/support/d1.ts`)
      return mf.getD1Database(names[used++]!)
    },
    dispose: () => mf.dispose(),
  }
}
