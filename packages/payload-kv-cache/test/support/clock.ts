import type { KVCacheClock } from '../../src/internals.js'

/**
 * Time that a test moves by hand. `sleep` resolves when `advance` passes its deadline, so
 * a test steps through KV's one-write-per-second spacing without waiting for it.
 */
export class ManualClock implements KVCacheClock {
  private sleepers: { until: number; wake: () => void }[] = []

  constructor(private time = Date.UTC(2026, 0, 1)) {}

  now = (): number => this.time

  sleep = (ms: number): Promise<void> =>
    new Promise((wake) => {
      this.sleepers.push({ until: this.time + ms, wake })
    })

  /** Moves time forward, waking sleepers in deadline order and letting each one run. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms
    for (;;) {
      this.sleepers.sort((a, b) => a.until - b.until)
      const next = this.sleepers[0]
      if (!next || next.until > target) break
      this.sleepers.shift()
      this.time = Math.max(this.time, next.until)
      next.wake()
      await settleMicrotasks()
    }
    this.time = target
    await settleMicrotasks()
  }

  /** Waits for `work`, moving time 100 ms at a turn so that whatever sleeps on it wakes. */
  async until(work: Promise<unknown>): Promise<void> {
    let done = false
    const watched = work.then(
      () => (done = true),
      () => (done = true),
    )
    while (!done) await this.advance(100)
    await watched
  }

  /**
   * Waits for `work` in real time, and moves time only once it seems to wait on it (not done
   * after 400 ms of real time, longer than any write takes here, with something asleep on the
   * clock): a write that waits for a slot or a retry (a stamp put that timed out on a busy
   * machine) gets there, and the others leave time where it was, so that writes close together
   * stay within one of KV's seconds. Unlike `until`, which moves 100 ms at every turn of the
   * event loop, however long the work takes in real time.
   */
  async waitFor<T>(work: Promise<T>): Promise<T> {
    let done = false
    const watched = work.finally(() => (done = true))
    const startedAt = Date.now()
    while (!done) {
      await Promise.race([watched.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 10))])
      if (!done && Date.now() - startedAt > 400 && this.pending > 0) await this.advance(200)
    }
    return watched
  }

  /** Drops every sleeper without waking it: what Workers do to waitUntil work past its limit. */
  cancelSleepers(): void {
    this.sleepers = []
  }

  get pending(): number {
    return this.sleepers.length
  }
}

/**
 * Real time that skips its waits: `sleep(ms)` moves the clock `ms` ahead and resolves on the
 * next turn. For suites about what a read returns, not when: a write's trailing stamp lands
 * at once instead of a second later.
 */
export function skippingClock(): KVCacheClock & { skip(ms: number): void } {
  let offset = 0
  return {
    now: () => Date.now() + offset,
    sleep: (ms) => {
      offset += Math.max(0, ms)
      return new Promise((resolve) => setImmediate(resolve))
    },
    /** Moves the time of every isolate sharing this clock on. */
    skip: (ms) => {
      offset += ms
    },
  }
}

async function settleMicrotasks(): Promise<void> {
  // KV calls answer on the event loop, not as microtasks: give them real turns.
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
}
