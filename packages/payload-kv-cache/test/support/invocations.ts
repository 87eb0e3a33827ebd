import { AsyncLocalStorage } from 'node:async_hooks'
import type { KVNamespaceLike } from '../../src/index.js'

/** One Workers invocation: the KV operations it made, and the limit it may not pass. */
export interface Invocation {
  operations: number
}

const invocations = new AsyncLocalStorage<Invocation>()

/**
 * Runs `work` as one Workers invocation: every KV call it makes, and every call of what it
 * leaves running in the background (fills, trailing stamp writes, as `waitUntil` work is),
 * counts against `invocation`.
 */
export function inInvocation<T>(work: () => Promise<T>, invocation: Invocation = { operations: 0 }): Promise<T> {
  return invocations.run(invocation, work)
}

/** The error workerd throws for the 1,001st KV operation of an invocation. */
export class TooManyOperationsError extends Error {
  constructor() {
    super('KV GET failed: Too many API requests by single worker invocation.')
    this.name = 'TooManyOperationsError'
  }
}

export interface BudgetedKV extends KVNamespaceLike {
  /** Calls refused for passing their invocation's limit. */
  refused: number
  /** The most calls any one invocation made. */
  maxPerInvocation: number
}

/**
 * The real namespace as a Worker sees it: counts every call against the invocation it runs in
 * (see `inInvocation`) and, with `limit`, refuses those past it as workerd does. Calls made
 * outside any invocation are not counted.
 */
export function budgeted(real: KVNamespaceLike, limit: number | undefined): BudgetedKV {
  const spend = (): void => {
    const invocation = invocations.getStore()
    if (!invocation) return
    invocation.operations++
    out.maxPerInvocation = Math.max(out.maxPerInvocation, invocation.operations)
    if (limit !== undefined && invocation.operations > limit) {
      out.refused++
      throw new TooManyOperationsError()
    }
  }
  const out: BudgetedKV = {
    refused: 0,
    maxPerInvocation: 0,
    get: (async (key: string | string[], type: unknown) => {
      spend()
      return real.get(key as string, type as 'text')
    }) as KVNamespaceLike['get'],
    put: async (key, value, options) => {
      spend()
      return real.put(key, value, options)
    },
    delete: async (key) => {
      spend()
      return real.delete(key)
    },
    list: async (options) => {
      spend()
      return real.list(options)
    },
  }
  return out
}
