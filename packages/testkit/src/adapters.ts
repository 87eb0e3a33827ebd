/**
 * Counting the calls that reach a database, beneath `withKVCache` (the cache's inner adapter
 * is the counting proxy, so whatever calls the inner adapter, the cache included, is
 * counted). Shared by the bench and the website example, which counts its own server's
 * calls for the bench's admin section. Bundled into the bench Worker too, so nothing here
 * may import Node built-ins: it is `@pkc/testkit/adapters`, apart from the main entry.
 */
import type { BaseDatabaseAdapter, DatabaseAdapterObj, Payload } from 'payload'
import { READ_OPERATIONS, WRITE_OPERATIONS } from 'payload-kv-cache'

const READS = new Set<string>(READ_OPERATIONS)
const WRITES = new Set<string>(WRITE_OPERATIONS)

export const isRead = (operation: string): boolean => READS.has(operation)

type Around = (operation: string, call: () => unknown, args: unknown[]) => unknown

/**
 * The adapter value with every read and write method of its instance routed through
 * `around`. A Proxy, like the cache's own wrapper, because adapters reassign their
 * properties after init; methods run with `this` set to the real instance, so an adapter's
 * calls to itself are not counted twice.
 */
export function intercepted<T extends DatabaseAdapterObj>(adapter: T, around: Around): T {
  return {
    ...adapter,
    init(args: { payload: Payload }): BaseDatabaseAdapter {
      const instance = adapter.init(args)
      return new Proxy(instance, {
        get(target, property, receiver) {
          const value: unknown = Reflect.get(target, property, receiver)
          if (typeof property !== 'string' || typeof value !== 'function') return value
          if (!READS.has(property) && !WRITES.has(property)) return value
          const method = value as (...args: unknown[]) => unknown
          return (...args: unknown[]) => around(property, () => method.apply(target, args), args)
        },
      })
    },
  }
}

export interface CallCounter {
  reads: number
  writes: number
}

/**
 * Counts the database calls the adapter receives (what a cache is meant to save). `onCall`
 * runs as each one starts, with the operation and its arguments: the moment the cache's
 * per-isolate state is at its fullest, and where a caller can tally calls by kind.
 */
export function counted<T extends DatabaseAdapterObj>(
  adapter: T,
  counter: CallCounter,
  onCall?: (operation: string, args: unknown[]) => void,
): T {
  return intercepted(adapter, (operation, call, args) => {
    if (READS.has(operation)) counter.reads++
    else counter.writes++
    onCall?.(operation, args)
    return call()
  })
}
