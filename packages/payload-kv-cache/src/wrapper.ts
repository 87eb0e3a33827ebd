import type { BaseDatabaseAdapter, DatabaseAdapterObj as DatabaseAdapterResult, Payload } from 'payload'
import type { ConfigLike } from './dependencies.js'
import type { Args, InnerAdapter, Logger } from './engine.js'
import { CacheEngine } from './engine.js'
import type { KVCacheHandle } from './handle.js'
import { Handle } from './handle.js'
import type { KVNamespaceLike } from './kv.js'
import type { ReadOperation, TransactionOperation } from './operations.js'
import { kindOf } from './operations.js'
import type { KVCacheOptions } from './options.js'
import { resolveOptions } from './options.js'

type Method = (this: InnerAdapter, ...args: unknown[]) => unknown

const INNER = Symbol.for('payload-kv-cache.inner')

/**
 * The adapter under the cache, for calls that must reach the database directly (and for
 * tests that count them). Returns its argument when it is not a wrapped adapter.
 */
export function unwrapAdapter<T extends object>(db: T): T {
  return ((db as Record<symbol, unknown>)[INNER] as T | undefined) ?? db
}

/** What `withKVCache` returns: the adapter value it was given, with `init` wrapped. */
export type WithKVCache<T extends DatabaseAdapterResult> = T & { kvCache: KVCacheHandle }

/**
 * Wraps a Payload database adapter (what you would pass as `db:`) so that reads are answered
 * from Workers KV and writes invalidate them.
 *
 * ```ts
 * db: withKVCache(postgresAdapter({ pool: { connectionString } }), { kv: env.CACHE })
 * ```
 */
export function withKVCache<T extends DatabaseAdapterResult>(adapter: T, options: KVNamespaceLike | KVCacheOptions): WithKVCache<T> {
  const resolved = resolveOptions(options)
  if (!adapter || typeof adapter.init !== 'function') {
    throw new TypeError(
      'payload-kv-cache: the first argument must be a Payload database adapter, e.g. `withKVCache(postgresAdapter({ ... }), { kv })`.',
    )
  }
  const handle = new Handle()
  return {
    ...adapter,
    kvCache: handle,
    init(args: { payload: Payload }): BaseDatabaseAdapter {
      const inner = adapter.init(args) as unknown as InnerAdapter
      const logger = args.payload?.logger as Logger | undefined
      const engine = new CacheEngine(resolved, inner, args.payload?.config ?? {}, logger)
      handle.attach(engine)
      return wrapInstance(inner, engine, handle, logger) as unknown as BaseDatabaseAdapter
    },
  }
}

/**
 * A live view of the inner adapter (ARCHITECTURE.md, Wrapping). Nothing is copied: adapters reassign
 * their own methods and properties after init. Every method is called with `this === inner`,
 * so an adapter's calls to itself (`upsert` calling `this.updateOne`, `connect` running
 * `this.migrate`) are never intercepted a second time. Every function property called from
 * outside is routed by its kind in the operation table; one the table does not name may be a
 * write a newer Payload added, so it invalidates everything (README, Limits).
 */
function wrapInstance(inner: InnerAdapter, engine: CacheEngine, handle: KVCacheHandle, logger: Logger | undefined): InnerAdapter {
  // One wrapper per inner function, so `db.find === db.find` and spies behave.
  const wrappers = new WeakMap<Method, Method>()
  // Our own wrappers, when something stored one back on the adapter (a restored spy).
  const ours = new WeakSet<Method>()
  const logged = new Set<string>()

  // Payload's hot reload sets `payload.config` to the new config, then calls the instance's
  // `init`: rebuild what the engine derived from the old one.
  const reinit = (fn: Method, args: unknown[]): unknown => {
    const result = fn.apply(inner, args)
    const reconfigure = (): void => {
      const config = (inner.payload as { config?: ConfigLike } | undefined)?.config
      if (!config) return
      try {
        engine.configure(config)
      } catch (error) {
        // An option naming a collection the new config removed: keep the old rules, say so.
        logger?.warn?.(
          `payload-kv-cache: the reloaded config was not applied, the cache keeps the previous one: ${error instanceof Error ? error.message : String(error)}`,
        )
      }
    }
    if (result instanceof Promise) return result.then((value: unknown) => (reconfigure(), value))
    reconfigure()
    return result
  }

  const wrap = (name: string, fn: Method): Method => {
    if (ours.has(fn)) return fn
    let wrapper = wrappers.get(fn)
    if (wrapper) return wrapper
    const kind = kindOf(name)
    if (kind === 'unknown' && !logged.has(name)) {
      logged.add(name)
      logger?.warn?.(
        `payload-kv-cache: the adapter method ${name} is not one this version knows; each call is forwarded, then invalidates everything (README, Limits)`,
      )
    }
    wrapper = function (this: unknown, ...args: unknown[]) {
      if (name === 'init' && this !== inner) return reinit(fn, args)
      // Called by the adapter on itself (or by a spy we called): not ours to cache twice.
      if (this === inner || kind === 'pass') return fn.apply(inner, args)
      switch (kind) {
        case 'read':
          return engine.read(name as ReadOperation, fn, (args[0] ?? {}) as Args)
        case 'write':
          return engine.write(name, fn, (args[0] ?? {}) as Args)
        case 'transaction':
          return engine.transaction(name as TransactionOperation, fn, args)
        case 'flush':
          return engine.flush(fn, args, name)
        case 'unknown':
          return engine.unknown(fn, args, name)
      }
    }
    wrappers.set(fn, wrapper)
    ours.add(wrapper)
    return wrapper
  }

  // Functions assigned through the proxy (`vi.spyOn(payload.db, 'find')`, a plugin replacing
  // `updateJobs`) are handed back as they are: called as `payload.db.x()`, their calls to
  // `this` and to the original they kept still go through the cache, and a spy stays a spy.
  const assigned = new WeakSet<object>()
  const remember = (value: unknown): void => {
    if (typeof value === 'function') assigned.add(value)
  }

  const proxy: InnerAdapter = new Proxy(inner, {
    get(target, property) {
      if (property === 'kvCache') return handle
      if (property === INNER) return target
      const value: unknown = Reflect.get(target, property, target)
      if (typeof property !== 'string' || typeof value !== 'function' || assigned.has(value)) return value
      // Object.prototype's (`toString`, `hasOwnProperty`): no adapter method, nothing to route.
      if (value === (Object.prototype as Record<string, unknown>)[property]) return value
      // Proxy invariant: a non-writable, non-configurable property must read as itself.
      const descriptor = Object.getOwnPropertyDescriptor(target, property)
      if (descriptor && !descriptor.configurable && !descriptor.writable) return value
      return wrap(property, value as Method)
    },
    set(target, property, value) {
      remember(value)
      return Reflect.set(target, property, value, target)
    },
    defineProperty(target, property, descriptor) {
      remember(descriptor.value)
      return Reflect.defineProperty(target, property, descriptor)
    },
  })
  return proxy
}
