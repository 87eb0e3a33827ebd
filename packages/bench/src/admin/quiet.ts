/**
 * When a page has finished what a step set off. Playwright's `networkidle` is a load state,
 * reached once per navigation: after a click on Save it resolves at once, while the admin is
 * still sending form-state and lock requests. The bench attributes every database call to the
 * step that caused it, so it waits until the context has had no request in flight for a while.
 */
import type { BrowserContext } from 'playwright-core'

export interface Quiet {
  /** True once no request has been in flight for `idleMs`; false if that did not happen within `timeoutMs`. */
  wait(idleMs?: number, timeoutMs?: number): Promise<boolean>
}

export function trackRequests(context: BrowserContext): Quiet {
  const inFlight = new Set<unknown>()
  let last = performance.now()
  const start = (request: unknown) => {
    inFlight.add(request)
    last = performance.now()
  }
  const end = (request: unknown) => {
    inFlight.delete(request)
    last = performance.now()
  }
  context.on('request', start)
  context.on('requestfinished', end)
  context.on('requestfailed', end)
  return {
    async wait(idleMs = 500, timeoutMs = 15_000) {
      const deadline = performance.now() + timeoutMs
      while (performance.now() < deadline) {
        if (inFlight.size === 0 && performance.now() - last >= idleMs) return true
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      return false
    },
  }
}
