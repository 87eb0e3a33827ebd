/*
 * The checks the option spec (option-spec.ts) is built from. Each takes the value as given and
 * returns it typed, or throws a KVCacheConfigError naming the option (or the part of it at
 * fault) and the fix, so that a mistake fails when the config is built, not on a request.
 */
import type { KVNamespaceLike } from './kv.js'
import { isKVNamespace } from './kv.js'
import { READ_OPERATIONS } from './operations.js'
import type { DurableObjectNamespaceLike } from './invalidation/strong-stamps.js'
import { isDurableObjectNamespace } from './invalidation/strong-stamps.js'
import type { AuditOptions, OperationSettings, ScopeSetting } from './options.js'

export class KVCacheConfigError extends Error {
  constructor(option: string, problem: string, fix: string) {
    super(`payload-kv-cache: option \`${option}\` ${problem}. ${fix}`)
    this.name = 'KVCacheConfigError'
  }
}

/** A check: the value as given in, the value typed out, or a KVCacheConfigError. */
export type Check<T> = (value: unknown) => T

/** What the message says was given: enough to spot the mistake, never a whole object. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (value === null || typeof value !== 'object') return String(value)
  return Array.isArray(value) ? 'an array' : 'an object'
}

/** A check from a test: `problem` and what was given, then `fix`. */
export function checkThat<T>(option: string, test: (value: unknown) => boolean, problem: string, fix: string): Check<T> {
  return (value) => {
    if (!test(value)) throw new KVCacheConfigError(option, `${problem} (got ${describe(value)})`, fix)
    return value as T
  }
}

export const isBoolean = (value: unknown): boolean => typeof value === 'boolean'
export const isFunction = (value: unknown): boolean => typeof value === 'function'
const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value)

/** A TTL in seconds, at any depth of the options (`ttl`, `collections.posts.operations.find.ttl`). */
export function seconds(option: string): Check<number> {
  return checkThat(
    option,
    (value) => typeof value === 'number' && Number.isFinite(value) && value > 0,
    'must be a positive number of seconds',
    'Use for example `ttl: 300`.',
  )
}

/** `operations`, at the top or under a collection or global. */
export function operations(option: string): Check<OperationSettings> {
  return (value) => {
    if (!isPlainObject(value)) {
      throw new KVCacheConfigError(
        option,
        'must be an object keyed by read operation',
        `Use for example \`${option}: { find: { ttl: 60 }, count: false }\`.`,
      )
    }
    for (const [name, setting] of Object.entries(value)) {
      if (!(READ_OPERATIONS as readonly string[]).includes(name)) {
        throw new KVCacheConfigError(`${option}.${name}`, 'is not a read operation', `Use one of: ${READ_OPERATIONS.join(', ')}.`)
      }
      if (typeof setting === 'boolean') continue
      if (setting === null || typeof setting !== 'object') {
        throw new KVCacheConfigError(`${option}.${name}`, 'must be true, false or { ttl }', 'For example `{ ttl: 60 }`.')
      }
      const { ttl } = setting as { ttl?: unknown }
      if (ttl !== undefined) seconds(`${option}.${name}.ttl`)(ttl)
    }
    return value
  }
}

/**
 * `collections` or `globals`. Slugs are checked against the Payload config once it is known
 * (policy.ts): `withKVCache` runs before Payload has read it.
 */
export function scopes(option: 'collections' | 'globals'): Check<Record<string, ScopeSetting>> {
  return (value) => {
    if (!isPlainObject(value)) {
      throw new KVCacheConfigError(
        option,
        'must be an object keyed by slug',
        `Use for example \`${option}: { posts: { ttl: 60 }, secrets: false }\`.`,
      )
    }
    for (const [slug, setting] of Object.entries(value)) {
      if (typeof setting === 'boolean') continue
      if (setting === null || typeof setting !== 'object') {
        throw new KVCacheConfigError(`${option}.${slug}`, 'must be true, false or { ttl, operations }', 'For example `{ ttl: 60 }`.')
      }
      const { ttl, operations: perOperation, consistency } = setting as { ttl?: unknown; operations?: unknown; consistency?: unknown }
      if (ttl !== undefined) seconds(`${option}.${slug}.ttl`)(ttl)
      if (perOperation !== undefined) operations(`${option}.${slug}.operations`)(perOperation)
      if (consistency !== undefined && consistency !== 'eventual' && consistency !== 'strong') {
        throw new KVCacheConfigError(
          `${option}.${slug}.consistency`,
          `must be 'eventual' or 'strong' (got ${describe(consistency)})`,
          "For example `{ consistency: 'strong' }` (README, Strong consistency).",
        )
      }
    }
    return value as Record<string, ScopeSetting>
  }
}

const MISSING_KV =
  "Pass your KV binding: `withKVCache(adapter, { kv: env.CACHE })`. In Node, get one from Miniflare or wrangler's getPlatformProxy()."

export type KVOption = KVNamespaceLike | (() => KVNamespaceLike)

export function kvBinding(value: unknown): KVOption {
  if (value === undefined || value === null) throw new KVCacheConfigError('kv', 'is missing', MISSING_KV)
  if (typeof value !== 'function' && !isKVNamespace(value)) {
    throw new KVCacheConfigError(
      'kv',
      `is not a KV namespace (got ${describe(value)}: it needs get, put, delete and list)`,
      'Pass the binding itself, e.g. `env.CACHE`, or a function returning it.',
    )
  }
  return value as KVOption
}

/** The namespace getter the engine calls on each use; a function's result is checked each time. */
export function kvGetter(value: KVOption | undefined): () => KVNamespaceLike {
  if (value === undefined) throw new KVCacheConfigError('kv', 'is missing', MISSING_KV)
  if (typeof value !== 'function') return () => value
  return () => {
    const kv = value()
    if (!isKVNamespace(kv)) {
      throw new KVCacheConfigError(
        'kv',
        `function returned ${describe(kv)}, not a KV namespace`,
        'Check the binding name in wrangler.jsonc.',
      )
    }
    return kv
  }
}

const AUDIT_EXAMPLE = 'For example `audit: { sampleRate: 1 }` in staging, `audit: { sampleRate: 0.01 }` in production.'

export function audit(value: unknown): AuditOptions | false {
  if (value === false) return false
  if (!isPlainObject(value)) {
    throw new KVCacheConfigError('audit', `must be an object { sampleRate } or false (got ${describe(value)})`, AUDIT_EXAMPLE)
  }
  for (const name of Object.keys(value)) {
    if (name !== 'sampleRate') throw new KVCacheConfigError(`audit.${name}`, 'is not an audit option', 'Known: sampleRate.')
  }
  const { sampleRate } = value
  if (typeof sampleRate !== 'number' || !Number.isFinite(sampleRate) || sampleRate < 0 || sampleRate > 1) {
    throw new KVCacheConfigError('audit.sampleRate', `must be a number from 0 to 1 (got ${describe(sampleRate)})`, AUDIT_EXAMPLE)
  }
  return { sampleRate }
}

export type StrongStampsOption = DurableObjectNamespaceLike | (() => DurableObjectNamespaceLike)

/** The Durable Object namespace binding of `KVCacheStamps`, or a function returning it. */
export function strongStampsBinding(value: unknown): StrongStampsOption {
  if (typeof value !== 'function' && !isDurableObjectNamespace(value)) {
    throw new KVCacheConfigError(
      'strongStamps',
      `is not a Durable Object namespace (got ${describe(value)}: it needs idFromName and get)`,
      "Bind the `KVCacheStamps` class (`export { KVCacheStamps } from 'payload-kv-cache/durable-object'`) and pass the binding, e.g. `strongStamps: env.KV_CACHE_STAMPS`.",
    )
  }
  return value as StrongStampsOption
}

/** Its getter; a function's result is checked on each use (a broken binding becomes a database read, see strong-stamps.ts). */
export function strongStampsGetter(value: StrongStampsOption | undefined): (() => DurableObjectNamespaceLike) | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'function') return () => value
  return () => {
    const namespace = value()
    if (!isDurableObjectNamespace(namespace)) throw new TypeError('strongStamps returned no Durable Object namespace')
    return namespace
  }
}
