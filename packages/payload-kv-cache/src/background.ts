/**
 * Work that must not be lost but need not delay the caller (fills). On Workers it goes to
 * `waitUntil`; elsewhere it is tracked so that `settled()` can wait for it and nothing is
 * dropped on the floor. The set only holds promises still running.
 */
export class BackgroundWork {
  private readonly running = new Set<Promise<unknown>>()

  /**
   * Whether work handed here outlives the response: with `waitUntil`, or outside Workers. On
   * Workers without it the runtime may drop it once the response is sent, so nothing may
   * return on the promise of a trailing write (stamps.ts, burst horizons).
   */
  readonly outlivesResponse: boolean

  constructor(private readonly waitUntil: ((promise: Promise<unknown>) => void) | undefined) {
    this.outlivesResponse = waitUntil !== undefined || !onWorkers()
  }

  run(task: () => Promise<unknown>): void {
    const promise = task().catch(() => undefined)
    if (this.waitUntil) {
      try {
        this.waitUntil(promise)
        return
      } catch {
        // waitUntil throws outside a request context (module scope, tests): track it instead.
      }
    }
    this.running.add(promise)
    void promise.finally(() => this.running.delete(promise))
  }

  get size(): number {
    return this.running.size
  }

  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running])
  }
}

/** Workers set `navigator.userAgent` to this; Node, Deno and browsers do not. */
function onWorkers(): boolean {
  return (globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent === 'Cloudflare-Workers'
}
