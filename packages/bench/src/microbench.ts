/**
 * Timing of one small synchronous function, made to resist the usual traps: a warmup so the
 * JIT has settled, batches sized to take tens of milliseconds (timer resolution is then
 * irrelevant), results kept so no call is optimised away, and the median of several batches.
 */
import { median } from './summary.js'

export interface MicroOptions {
  /** Batches measured after the warmup. */
  batches: number
  /** Target duration of one batch, ms. */
  batchMs: number
}

let sink = 0

/** Median nanoseconds per call of `fn`. */
export function nsPerCall(fn: () => unknown, options: MicroOptions): number {
  // Calibrate: double until one batch takes long enough, which also warms the JIT.
  let iterations = 1
  for (;;) {
    const took = run(fn, iterations)
    if (took >= options.batchMs / 2) {
      iterations = Math.max(1, Math.round((iterations * options.batchMs) / took))
      break
    }
    iterations *= 2
  }
  run(fn, iterations)
  const perCall: number[] = []
  for (let b = 0; b < options.batches; b++) perCall.push((run(fn, iterations) * 1e6) / iterations)
  return median(perCall)
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
