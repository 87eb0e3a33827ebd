import type { CallCounter } from '@pkc/testkit/adapters'
import { counted, isRead } from '@pkc/testkit/adapters'
import type { DatabaseAdapterObj } from 'payload'

/** The calls that reached Postgres in this server process: what `/api/kv-cache-stats` reports. */
export interface DatabaseCalls extends CallCounter {
  /** Reads by adapter operation and collection or global (`find posts`, `findGlobal header`). */
  readsBy: Record<string, number>
}

type WithCalls = typeof globalThis & { __pkcWebsiteDatabaseCalls?: DatabaseCalls }

/**
 * Kept on globalThis, like the KV (src/kv.ts): Next can evaluate the config module more than
 * once in a process, and the counts must be the server's, not one bundle's.
 */
export function databaseCalls(): DatabaseCalls {
  const scope = globalThis as WithCalls
  scope.__pkcWebsiteDatabaseCalls ??= { reads: 0, writes: 0, readsBy: {} }
  return scope.__pkcWebsiteDatabaseCalls
}

/** What a read names: a collection (`find`, `findVersions`), or a global (`findGlobal`'s `slug`, the versions' `global`). */
function scopeOf(args: unknown[]): string {
  const first = (args[0] ?? {}) as { collection?: unknown; global?: unknown; slug?: unknown }
  const name = first.collection ?? first.global ?? first.slug
  return typeof name === 'string' ? name : '?'
}

/**
 * The adapter with every call that reaches it counted. It goes beneath `withKVCache` (the
 * cache's inner adapter), so a read the cache answers from KV is not counted and every
 * other one is: the same counting as the bench's (packages/bench), which reads these figures.
 */
export function countingCalls<T extends DatabaseAdapterObj>(adapter: T): T {
  const calls = databaseCalls()
  return counted(adapter, calls, (operation, args) => {
    if (!isRead(operation)) return
    const key = `${operation} ${scopeOf(args)}`
    calls.readsBy[key] = (calls.readsBy[key] ?? 0) + 1
  })
}
