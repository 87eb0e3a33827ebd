import type { StampsRequest, StampsResponse } from '../durable-object.js'
import type { Counters } from '../stats.js'
import { ownerOfStamp } from './documents.js'
import type { StampScope } from './stamp-tokens.js'

/*
 * Strong scopes' stamps in a Durable Object (README, Strong consistency; the class is
 * durable-object.ts). A strong read asks the objects of the scopes it depends on for their
 * tokens, in parallel with its KV lookup, and is valid only while those tokens and its KV
 * stamps are all current; every write bumps its scopes in the objects before it returns, so
 * a read that starts after a write returned sees it in every location. One object per
 * collection or global (a flush bumps them all), so a read usually asks one, a read that
 * follows a relationship or join one per scope it reaches.
 * An object that fails or is slower than `kvTimeoutMs` makes the read a database read.
 */

/** The parts of a Durable Object namespace binding the client uses. */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown
  get(id: never): {
    fetch(input: string, init?: { method?: string; body?: string; headers?: Record<string, string> }): Promise<ResponseLike>
  }
}

interface ResponseLike {
  ok: boolean
  status: number
  json(): Promise<unknown>
}

/** A name no stamp key is built from: the request URL's host, which the object ignores. */
const URL_BASE = 'https://payload-kv-cache.stamps/'

/** Retries of a bump that failed, after these waits (ms): the write already committed. */
const BUMP_RETRY_MS = [250, 1000, 4000]

export class StrongStamps {
  constructor(
    private readonly namespace: () => DurableObjectNamespaceLike,
    /** The cache's `prefix`: sites sharing a namespace keep apart objects, as they keep apart keys. */
    private readonly prefix: string,
    private readonly timeoutMs: number,
    private readonly counters: Counters,
    private readonly sleep: (ms: number) => Promise<void>,
    private readonly report: (message: string) => void,
  ) {}

  /** The tokens of these scopes, as one text for the signature; undefined when an object failed or was slow. */
  async read(scopes: readonly StampScope[]): Promise<string | undefined> {
    const answers = await Promise.all(
      [...byObject(scopes)].map(async ([owner, list]) => {
        this.counters.count('strongReads', owner, undefined)
        return this.call(owner, { op: 'read', scopes: list })
      }),
    )
    if (answers.some((answer) => answer === undefined)) return undefined
    const parts: string[] = []
    for (const answer of answers as StampsResponse[])
      for (const scope of Object.keys(answer).sort()) parts.push(`${scope}=${answer[scope]}`)
    return parts.sort().join(',')
  }

  /**
   * New tokens for these scopes; resolves once every object has stored them, or once the
   * retries of a failed one are given up (counted and logged: other locations then see the
   * write within KV's window, as eventual scopes do).
   */
  async bump(scopes: readonly StampScope[]): Promise<void> {
    await Promise.all(
      [...byObject(scopes)].map(async ([owner, list]) => {
        for (let attempt = 0; ; attempt++) {
          this.counters.count('strongBumps', owner, undefined)
          if ((await this.call(owner, { op: 'bump', scopes: list })) !== undefined) return
          const wait = BUMP_RETRY_MS[attempt]
          if (wait === undefined) {
            this.counters.count('strongFailures', owner, undefined)
            this.report(`could not bump ${list.join(', ')} in the Durable Object: other locations see the write within KV's window`)
            return
          }
          await this.sleep(wait)
        }
      }),
    )
  }

  private async call(owner: string, body: StampsRequest): Promise<StampsResponse | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      const namespace = this.namespace()
      const stub = namespace.get(namespace.idFromName(`${this.prefix}:${owner}`) as never)
      const request = stub.fetch(URL_BASE, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
      // A late answer is dropped: the caller has gone to the database (or retries).
      request.catch(() => undefined)
      const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), this.timeoutMs)))
      const response = await Promise.race([request, timeout])
      if (!response || !response.ok) return undefined
      const answer = await response.json()
      if (answer === null || typeof answer !== 'object') return undefined
      for (const scope of body.scopes) if (typeof (answer as Record<string, unknown>)[scope] !== 'string') return undefined
      return answer as StampsResponse
    } catch {
      return undefined
    } finally {
      clearTimeout(timer)
    }
  }
}

/** The scopes grouped by the object that keeps them: their collection's or global's. */
function byObject(scopes: readonly StampScope[]): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const scope of new Set(scopes)) {
    const owner = scope === '*' ? '*' : ownerOfStamp(scope)
    const list = out.get(owner) ?? []
    list.push(scope)
    out.set(owner, list)
  }
  return out
}

export function isDurableObjectNamespace(value: unknown): value is DurableObjectNamespaceLike {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { idFromName?: unknown }).idFromName === 'function' &&
    typeof (value as { get?: unknown }).get === 'function'
  )
}
