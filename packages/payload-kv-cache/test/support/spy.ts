import { expect, jest } from '@jest/globals'
import type { Payload } from 'payload'
import { READ_OPERATIONS, unwrapAdapter, WRITE_OPERATIONS } from '../../src/index.js'

export interface CallLog {
  /** Inner adapter read calls since the last reset, as `operation:slug`. */
  reads: string[]
  writes: string[]
  reset(): void
  restore(): void
}

const slugOf = (args: Record<string, unknown> | undefined): string =>
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- each of these is a slug, a string
  String(args?.collection ?? args?.collectionSlug ?? args?.slug ?? args?.global ?? args?.globalSlug ?? '?')

/**
 * Spies on the inner adapter (under the cache), so a call counted here reached the database.
 * Wraps the real methods; each still runs.
 */
export function spyOnDatabase(payload: Payload): CallLog {
  const inner = unwrapAdapter(payload.db) as unknown as Record<string, (...args: unknown[]) => unknown>
  const log: CallLog = {
    reads: [],
    writes: [],
    reset() {
      log.reads.length = 0
      log.writes.length = 0
    },
    restore() {
      for (const spy of spies) spy.mockRestore()
    },
  }
  const spies: Array<{ mockRestore(): void }> = []
  for (const [names, into] of [
    [READ_OPERATIONS, log.reads],
    [WRITE_OPERATIONS, log.writes],
  ] as const) {
    for (const name of names) {
      if (typeof inner[name] !== 'function') continue
      const original = inner[name]
      const spy = jest.spyOn(inner, name).mockImplementation(function (this: unknown, ...args: unknown[]) {
        into.push(`${name}:${slugOf(args[0] as Record<string, unknown>)}`)
        return original.apply(this, args)
      })
      spies.push(spy)
    }
  }
  return log
}

/**
 * Reads through the cached Payload until the read is a hit (nothing reached the database) and
 * returns it. Settles first: a previous write's trailing stamp write makes this isolate bypass
 * (and not fill) its scope until it lands.
 */
export async function readUntilHit<T>(
  pair: { cached: Payload; cache: { settled(): Promise<void> } },
  log: CallLog,
  read: (p: Payload) => Promise<T>,
): Promise<T> {
  await pair.cache.settled()
  await read(pair.cached)
  await pair.cache.settled()
  log.reset()
  const hit = await read(pair.cached)
  expect(log.reads).toEqual([])
  return hit
}
