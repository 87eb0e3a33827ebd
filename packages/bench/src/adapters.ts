/**
 * Wrappers around a Payload database adapter for measuring: count the calls that reach the
 * database, add a modelled origin latency, or answer from memory. Used in Node and bundled
 * into the bench Worker, so nothing here may import Node built-ins.
 */
import type { BaseDatabaseAdapter, DatabaseAdapterObj, Payload } from 'payload'
import { READ_OPERATIONS, WRITE_OPERATIONS } from 'payload-kv-cache'

const READS = new Set<string>(READ_OPERATIONS)
const WRITES = new Set<string>(WRITE_OPERATIONS)

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
 * runs as each one starts: the moment the cache's per-isolate state is at its fullest.
 */
export function counted<T extends DatabaseAdapterObj>(adapter: T, counter: CallCounter, onCall?: () => void): T {
  return intercepted(adapter, (operation, call) => {
    if (READS.has(operation)) counter.reads++
    else counter.writes++
    onCall?.()
    return call()
  })
}

/**
 * A model of a remote database: every call waits `ms` first. Local D1 answers in well under
 * a millisecond, which no production origin does; this shows what the cache saves then.
 */
export function delayed<T extends DatabaseAdapterObj>(adapter: T, ms: number): T {
  return intercepted(adapter, async (_operation, call) => {
    await new Promise((resolve) => setTimeout(resolve, ms))
    return call()
  })
}

/**
 * Reads answered from memory after the first identical one: the same Payload request with no
 * database call, the floor a KV hit is compared against. Writes pass through and are not
 * seen by the memory, so use it only on data that does not change.
 */
export function memoized<T extends DatabaseAdapterObj>(adapter: T): T {
  const results = new Map<string, Promise<unknown>>()
  return intercepted(adapter, async (operation, call, args) => {
    if (!READS.has(operation)) return call()
    const { req: _req, ...rest } = (args[0] ?? {}) as Record<string, unknown>
    const key = `${operation}\n${JSON.stringify(rest)}`
    let result = results.get(key)
    if (!result) results.set(key, (result = Promise.resolve(call())))
    // Payload mutates what the adapter returns, as it does a KV hit's fresh copy.
    return structuredClone(await result)
  })
}
