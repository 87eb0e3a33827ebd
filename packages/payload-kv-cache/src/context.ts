import type { CacheControl } from './options.js'

interface Storage<T> {
  getStore(): T | undefined
  run<R>(store: T, fn: () => R): R
}

type AsyncLocalStorageClass = new <T>() => Storage<T>

/**
 * AsyncLocalStorage, when the runtime has it: Node, and workerd with `nodejs_compat` or
 * `nodejs_als`. Loaded without a static import so that the library also loads where it is
 * missing; only `kvCache.run()` needs it.
 */
function loadAsyncLocalStorage(): AsyncLocalStorageClass | undefined {
  const fromGlobal = (globalThis as { AsyncLocalStorage?: AsyncLocalStorageClass }).AsyncLocalStorage
  if (fromGlobal) return fromGlobal
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
  try {
    const mod = proc?.getBuiltinModule?.('node:async_hooks') as { AsyncLocalStorage?: AsyncLocalStorageClass } | undefined
    return mod?.AsyncLocalStorage
  } catch {
    return undefined
  }
}

const AsyncLocalStorageImpl = loadAsyncLocalStorage()
const storage: Storage<CacheControl> | undefined = AsyncLocalStorageImpl ? new AsyncLocalStorageImpl<CacheControl>() : undefined

/** Runs `fn` with cache control for every adapter call it makes, `findByID` included. */
export function runWithControl<R>(control: CacheControl, fn: () => R): R {
  if (!storage) {
    throw new Error(
      'payload-kv-cache: kvCache.run() needs AsyncLocalStorage, which this runtime lacks. On Workers enable the `nodejs_compat` compatibility flag, or pass `req.context.kvCache` instead.',
    )
  }
  const outer = storage.getStore()
  return storage.run(outer ? { ...outer, ...control } : control, fn)
}

/** The control in effect for one call: the `run()` scope, overridden by `req.context.kvCache`. */
export function controlFor(req: unknown): CacheControl | undefined {
  const scoped = storage?.getStore()
  const fromReq = (req as { context?: { kvCache?: CacheControl } } | undefined)?.context?.kvCache
  if (!fromReq) return scoped
  return scoped ? { ...scoped, ...fromReq } : fromReq
}

/**
 * The KV operations one request has made. Workers allow an invocation 1,000 (reads included),
 * counted with the work it hands to `waitUntil`; past them every KV call throws. A bulk
 * update or delete by `where` is one request that writes document after document (D1 has no
 * transaction to gather their invalidations), so the cache counts per request and spends less
 * as the count grows (store.ts, read.ts, stamps.ts).
 */
export interface RequestOperations {
  used: number
  /** Document and partition stamps this request has bumped one by one. */
  fineStamps: number
}

const operationsStorage = AsyncLocalStorageImpl ? new AsyncLocalStorageImpl<RequestOperations>() : undefined
/**
 * Where a request's count is kept: on Payload's `req` itself, under a symbol no one else reads.
 * Payload hands some adapter calls a Proxy of the request (`isolateObjectProperty`, for its
 * own transaction id) or a copy of it, whose identity differs but whose properties are the
 * request's: a WeakMap by identity would count each apart. (Not by `req.context`: Local API
 * calls without one may share a default object, and one count would then span requests.)
 */
const OPERATIONS = Symbol.for('payload-kv-cache.requestOperations')
/** For a request that cannot take the property (frozen). */
const operationsByReq = new WeakMap<object, RequestOperations>()

function operationsOf(req: object): RequestOperations {
  const held = (req as Record<symbol, RequestOperations | undefined>)[OPERATIONS] ?? operationsByReq.get(req)
  if (held) return held
  const fresh: RequestOperations = { used: 0, fineStamps: 0 }
  try {
    // Enumerable: a copy made by spreading the request (`{ ...req }`) counts with it. Writable:
    // Payload copies a request back onto one that has the count (`Object.assign`, restoring a
    // version), which throws on a read-only property (the admin's Restore answered 500).
    Object.defineProperty(req, OPERATIONS, { value: fresh, configurable: true, enumerable: true, writable: true })
  } catch {
    operationsByReq.set(req, fresh)
  }
  return fresh
}

/**
 * Runs `fn` counting the KV operations it makes, and the background work it starts, against
 * the request `req` belongs to (the count of an enclosing call when there is no `req`).
 * Without AsyncLocalStorage (Workers without `nodejs_compat`) nothing is counted: README
 * *Limits*.
 */
export function countingRequest<R>(req: unknown, fn: () => R): R {
  if (!operationsStorage || req === null || typeof req !== 'object') return fn()
  const operations = operationsOf(req)
  if (operationsStorage.getStore() === operations) return fn()
  return operationsStorage.run(operations, fn)
}

/** The count of the request this code runs for, if one is known. */
export function currentRequest(): RequestOperations | undefined {
  return operationsStorage?.getStore()
}
