/** How often a waiting request wakes on a timer of its own. */
const TICK_MS = 200

/**
 * Waits for work that another request may finish. Workers cancel a request as hung when all
 * it waits on is a promise that only another request's events can settle (a trailing stamp
 * write an earlier request scheduled through `waitUntil`, a fill it is still putting): the
 * runtime sees no I/O or timer of the waiting request's own. A timer of its own, re-armed
 * until the work settles, keeps it alive; elsewhere it only costs a wake-up now and then.
 */
export async function keepAlive<T>(work: Promise<T>): Promise<T> {
  let done = false
  const settled = work.finally(() => {
    done = true
  })
  while (!done) {
    let timer: ReturnType<typeof setTimeout> | undefined
    const tick = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, TICK_MS)
    })
    await Promise.race([
      settled.then(
        () => undefined,
        () => undefined,
      ),
      tick,
    ])
    clearTimeout(timer)
  }
  return settled
}
