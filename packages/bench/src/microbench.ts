/**
 * Timing of small synchronous functions side by side, made to resist the usual traps: every
 * contender is warmed until the JIT has settled before any is measured (on a busy machine its
 * background compiler can lag), batches are sized to take tens of milliseconds (timer
 * resolution is then irrelevant), batches of the contenders are interleaved round-robin so
 * that a noisy moment falls on all of them, results are kept so no call is optimised away,
 * and each figure is the median of several batches.
 */
import { median } from '@pkc/testkit'

export interface MicroOptions {
  /** Batches measured per contender. */
  batches: number
  /** Target duration of one batch, ms. */
  batchMs: number
  /** Warm-up per contender before anything is measured, ms. */
  warmupMs: number
}

let sink = 0

/** Median nanoseconds per call of each contender, by name. */
export function compare<K extends string>(contenders: Record<K, () => unknown>, options: MicroOptions): Record<K, number> {
  const names = Object.keys(contenders) as K[]
  const iterations = {} as Record<K, number>
  for (const name of names) {
    const fn = contenders[name]
    // Calibrate by doubling until a batch takes long enough.
    let count = 1
    for (;;) {
      const took = run(fn, count)
      if (took >= options.batchMs / 2) break
      count *= 2
    }
    const warmupEnd = performance.now() + options.warmupMs
    let took = run(fn, count)
    while (performance.now() < warmupEnd) took = run(fn, count)
    iterations[name] = Math.max(1, Math.round((count * options.batchMs) / Math.max(took, 0.001)))
  }
  const perCall = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<K, number[]>
  for (let b = 0; b < options.batches; b++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(b + j) % names.length]!
      perCall[name].push((run(contenders[name], iterations[name]) * 1e6) / iterations[name])
    }
  }
  return Object.fromEntries(names.map((name) => [name, median(perCall[name])])) as Record<K, number>
}

function run(fn: () => unknown, iterations: number): number {
  const started = performance.now()
  for (let i = 0; i < iterations; i++) {
    const value = fn()
    sink ^= typeof value === 'string' ? value.length : value === undefined ? 0 : 1
  }
  return performance.now() - started
}

/** Read once at the end, so that the engine cannot prove the results unused. */
export const consumed = (): number => sink
