/**
 * Work that must not be lost but need not delay the caller (fills). On Workers it goes to
 * `waitUntil`; elsewhere it is tracked so that `settled()` can wait for it and nothing is
 * dropped on the floor. The set only holds promises still running.
 */
export class BackgroundWork {
  private readonly running = new Set<Promise<unknown>>()

  constructor(private readonly waitUntil: ((promise: Promise<unknown>) => void) | undefined) {}

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
