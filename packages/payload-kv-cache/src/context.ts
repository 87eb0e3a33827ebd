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
