import { beforeAll, describe, expect, it } from '@jest/globals'
import type { Pair } from '../support/app.js'
import { missingFeatures } from '../support/app.js'
import type { TestEnv } from '../support/env.js'
import type { Seed } from '../support/seed.js'
import { seed } from '../support/seed.js'
import { workload } from '../support/workload.js'

/** Hundreds of Payload calls against a real database: D1 in Miniflare takes most of two minutes on two busy cores. */
const DIFFERENTIAL_TIMEOUT_MS = 360_000

/**
 * The central assertion: a seeded random sequence of writes and reads through a wrapped and
 * an unwrapped Payload on one database; every read compared strictly. Replay a failure with
 * PKC_SEED=<seed>. With `audit`, every hit is also audited, and the run must end with audits
 * made and none of them a mismatch (an audit that cried wolf would fail it).
 */
export function differentialSuite(env: TestEnv, steps = 500, options: { audit?: boolean; transactions?: boolean } = {}): void {
  describe(`differential${options.audit ? ', every hit audited' : ''}${options.transactions ? ', writes in transactions' : ''}`, () => {
    let pair: Pair
    let data: Seed
    const seedValue = process.env.PKC_SEED ? Number(process.env.PKC_SEED) : Math.floor(Math.random() * 2 ** 31)

    beforeAll(async () => {
      pair = await env.newPair({
        ...(options.audit ? { audit: { sampleRate: 1 } } : {}),
        ...(options.transactions ? { transactions: true } : {}),
      })
      data = await seed(pair.cached)
    })

    it(
      `${steps} random operations: every cached read equals the database (seed printed on failure)`,
      async () => {
        const { next: nextOp, rnd } = workload(seedValue, data, { findDistinct: !missingFeatures(env.kind).findDistinct })

        let reads = 0
        for (let step = 0; step < steps; step++) {
          const op = nextOp()
          try {
            if (op.write) {
              await op.run(pair.cached)
            } else {
              reads++
              const cached = await op.run(pair.cached)
              const truth = await op.run(pair.plain)
              expect(cached).toStrictEqual(truth)
              // Half the time let fills land before the next step; otherwise they race it.
              if (rnd() < 0.5) await pair.cache.settled()
              const again = await op.run(pair.cached)
              expect(again).toStrictEqual(truth)
            }
          } catch (error) {
            const message = error instanceof Error ? error.message : String(error)
            throw new Error(`differential failed: PKC_SEED=${seedValue} step=${step} op=${op.name}\n${message}`)
          }
        }
        const stats = pair.cache.stats()
        expect(reads).toBeGreaterThan(steps / 3)
        // The cache did work: a run served entirely from the database would prove nothing.
        expect(stats.hits).toBeGreaterThan(reads / 4)
        if (options.audit) {
          await pair.cache.settled()
          const audited = pair.cache.stats()
          expect(audited.auditMismatches).toBe(0)
          expect(audited.auditErrors).toBe(0)
          // Most hits compared, not skipped: writes in between only skip the audits they overlap.
          expect(audited.audits).toBeGreaterThan(audited.hits / 2)
          expect(audited.audits + audited.auditsSkipped).toBe(audited.hits)
        }
      },
      DIFFERENTIAL_TIMEOUT_MS,
    )
  })
}
