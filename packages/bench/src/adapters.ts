/**
 * Wrappers around a Payload database adapter for measuring: count the calls that reach the
 * database (from @pkc/testkit), add a modelled origin latency, or answer from memory. Used in
 * Node and bundled into the bench Worker, so nothing here may import Node built-ins.
 */
import type { DatabaseAdapterObj } from 'payload'
import { intercepted, isRead } from '@pkc/testkit/adapters'

// Counting lives in @pkc/testkit, where the website example counts its server's calls too.
export type { CallCounter } from '@pkc/testkit/adapters'
export { counted, intercepted } from '@pkc/testkit/adapters'

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
    if (!isRead(operation)) return call()
    const { req: _req, ...rest } = (args[0] ?? {}) as Record<string, unknown>
    const key = `${operation}\n${JSON.stringify(rest)}`
    let result = results.get(key)
    if (!result) results.set(key, (result = Promise.resolve(call())))
    // Payload mutates what the adapter returns, as it does a KV hit's fresh copy.
    return structuredClone(await result)
  })
}
