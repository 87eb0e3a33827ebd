import { random } from '@pkc/testkit'
import type { KVListResult, KVNamespaceLike } from '../../src/index.js'

export type KVMethod = 'get' | 'put' | 'delete' | 'list'

/**
 * What one KV call does: answer as the real namespace does, throw, never answer, or answer
 * late (the real call is made, and answered, only when the test releases it: after the cache
 * has given up on it and gone to the database).
 */
export type Fault = 'ok' | 'throw' | 'hang' | 'late'

export interface FaultyKV extends KVNamespaceLike {
  /** Calls made, and faults injected, by method. */
  calls: Record<KVMethod, number>
  injected: Record<KVMethod, number>
  /** Makes the held late calls against the real namespace and answers them; returns how many. */
  releaseLate(): Promise<number>
}

/** The error a failing KV binding throws. */
export class InjectedKVError extends Error {
  constructor(method: KVMethod) {
    super(`injected KV ${method} failure`)
    this.name = 'InjectedKVError'
  }
}

/**
 * The real Miniflare namespace with faults injected call by call. `decide` sees the method
 * and the keys (a bulk get's keys, a put's or delete's key, a list's prefix).
 */
export function faultyKV(real: KVNamespaceLike, decide: (method: KVMethod, keys: readonly string[]) => Fault): FaultyKV {
  const calls = { get: 0, put: 0, delete: 0, list: 0 }
  const injected = { get: 0, put: 0, delete: 0, list: 0 }
  let held: Array<() => Promise<void>> = []

  const act = <T>(method: KVMethod, keys: readonly string[], call: () => Promise<T>): Promise<T> => {
    calls[method]++
    const fault = decide(method, keys)
    if (fault === 'ok') return call()
    injected[method]++
    if (fault === 'throw') return Promise.reject(new InjectedKVError(method))
    if (fault === 'hang') return new Promise<T>(() => undefined)
    return new Promise<T>((resolve, reject) => {
      held.push(() => call().then(resolve, reject))
    })
  }

  return {
    calls,
    injected,
    async releaseLate() {
      const now = held
      held = []
      // In order, as a slow link would deliver them: a late put lands after the earlier ones.
      for (const answer of now) await answer().catch(() => undefined)
      return now.length
    },
    get: ((key: string | string[], type: 'text') =>
      act('get', Array.isArray(key) ? key : [key], () => real.get(key as string, type))) as KVNamespaceLike['get'],
    put: (key, value, options) => act('put', [key], () => real.put(key, value, options)),
    delete: (key) => act('delete', [key], () => real.delete(key)),
    list: (options) => act<KVListResult>('list', [options?.prefix ?? ''], () => real.list(options)),
  }
}

export interface HangingKV {
  kv: KVNamespaceLike
  /** Stamp puts held so far. */
  readonly hung: number
  /** A step is over: the held puts whose time has come land, in order. */
  tick(): Promise<void>
}

/**
 * Puts that do not answer within the cache's timeout: a seeded share of stamp puts is held
 * and lands (is made against the real namespace) only when `tick` lets it, one to four steps
 * later, after the cache gave up on it; one in five never lands.
 */
export function hangingPuts(real: KVNamespaceLike, rate: number, seedValue: number): HangingKV {
  const rnd = random(seedValue)
  let held: Array<{ land: () => Promise<void>; after: number; never: boolean }> = []
  let step = 0
  let hung = 0
  return {
    kv: {
      get: real.get.bind<KVNamespaceLike['get']>(real),
      put: (key, value, options) => {
        if (!key.includes(':stamp:') || rnd() >= rate) return real.put(key, value, options)
        hung++
        const never = rnd() < 0.2
        return new Promise<void>((resolve, reject) => {
          held.push({ land: () => real.put(key, value, options).then(resolve, reject), after: step + 1 + Math.floor(rnd() * 4), never })
        })
      },
      delete: real.delete.bind(real),
      list: real.list.bind(real),
    },
    get hung() {
      return hung
    },
    async tick() {
      step++
      const due = held.filter((put) => put.after <= step && !put.never)
      held = held.filter((put) => put.after > step && !put.never)
      for (const put of due) await put.land().catch(() => undefined)
    },
  }
}

/** Every call of the given methods fails. */
export const always =
  (fault: Fault, methods: readonly KVMethod[] = ['get', 'put', 'delete', 'list']) =>
  (method: KVMethod): Fault =>
    methods.includes(method) ? fault : 'ok'

/** A seeded share of all calls fails, so a failing run can be replayed. */
export function sometimes(fault: Fault, rate: number, seedValue: number): (method: KVMethod) => Fault {
  const rnd = random(seedValue)
  return () => (rnd() < rate ? fault : 'ok')
}

export type Corruption = 'garbage' | 'truncated' | 'foreign' | 'future'

export interface CorruptingKV extends KVNamespaceLike {
  /** Entries stored damaged, by kind of damage. */
  corrupted: Record<Corruption, number>
}

/**
 * Stores a seeded share of the cache's entries damaged, as a buggy deploy, a disk or another
 * program would leave them: random bytes, cut short, someone else's JSON, or our envelope
 * from a future format version. Stamps are stored as they are (a damaged token is only
 * another token).
 */
export function corruptingKV(real: KVNamespaceLike, rate: number, seedValue: number): CorruptingKV {
  const rnd = random(seedValue)
  const corrupted: Record<Corruption, number> = { garbage: 0, truncated: 0, foreign: 0, future: 0 }
  const kinds: Corruption[] = ['garbage', 'truncated', 'foreign', 'future']
  const damage = (value: string, kind: Corruption): string => {
    switch (kind) {
      case 'garbage':
        return Array.from({ length: 1 + Math.floor(rnd() * 64) }, () => String.fromCharCode(Math.floor(rnd() * 0xd7ff))).join('')
      case 'truncated':
        return value.slice(0, Math.floor(value.length * rnd()))
      case 'foreign':
        return JSON.stringify({ html: '<p>cached page</p>', etag: 'W/"1"', d: [1, 2, 3] })
      case 'future': {
        const envelope = JSON.parse(value) as Record<string, unknown>
        return JSON.stringify({ ...envelope, v: 99, d: { moved: envelope.d } })
      }
    }
  }
  return {
    corrupted,
    get: real.get.bind<KVNamespaceLike['get']>(real),
    put(key, value, options) {
      if (!key.includes(':stamp:') && rnd() < rate) {
        const kind = kinds[Math.floor(rnd() * kinds.length)]!
        corrupted[kind]++
        return real.put(key, damage(value, kind), options)
      }
      return real.put(key, value, options)
    },
    delete: real.delete.bind(real),
    list: real.list.bind(real),
  }
}
