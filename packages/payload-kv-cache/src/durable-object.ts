/*
 * The Durable Object that keeps strong scopes' stamps (README, Strong consistency;
 * ARCHITECTURE.md, Invalidation strategies): `payload-kv-cache/durable-object`, a subpath of
 * its own so that sites on Node, which import the main entry, never load it. One object per
 * collection or global (the client names it by scope), each a single thread with its own
 * storage, so a token it answers is the one the last bump wrote, in every location.
 *
 * It speaks plain `fetch` (a JSON body), which Workers, Miniflare and wrangler's
 * `getPlatformProxy()` all pass through, and imports nothing from `cloudflare:workers`.
 */

/** The parts of `DurableObjectState` the class uses. */
export interface StampsState {
  storage: {
    get(keys: string[]): Promise<Map<string, unknown>>
    put(entries: Record<string, string>): Promise<void>
  }
}

/** What the client sends: the stamps to read, or to replace with new tokens. */
export interface StampsRequest {
  op: 'read' | 'bump'
  scopes: string[]
}

/** Answers: each stamp's token; '' for one never bumped. */
export type StampsResponse = Record<string, string>

/** A stamp has a token per bump; scopes are few per object (one collection's). */
const MAX_SCOPES_PER_CALL = 128

/**
 * `<time, base 36>-<random>`, the shape stamp-tokens.ts's `tokenTime` reads back: a strong read
 * takes the write time from it for the read-replica window (stamp-strategy.ts). Written here,
 * not imported, so that this entry stays one module a Worker can load on its own.
 */
function newToken(): string {
  const bytes = new Uint8Array(12)
  crypto.getRandomValues(bytes)
  let out = Date.now().toString(36) + '-'
  for (const byte of bytes) out += byte.toString(36).padStart(2, '0')
  return out
}

/**
 * Add it to your Worker and bind it (README, Strong consistency):
 *
 * ```ts
 * export { KVCacheStamps } from 'payload-kv-cache/durable-object'
 * ```
 */
export class KVCacheStamps {
  constructor(private readonly state: StampsState) {}

  async fetch(request: Request): Promise<Response> {
    let body: StampsRequest
    try {
      body = (await request.json()) as StampsRequest
    } catch {
      return new Response('payload-kv-cache: expected a JSON body', { status: 400 })
    }
    const scopes = Array.isArray(body?.scopes) ? body.scopes.filter((scope): scope is string => typeof scope === 'string') : []
    if ((body?.op !== 'read' && body?.op !== 'bump') || scopes.length === 0 || scopes.length > MAX_SCOPES_PER_CALL) {
      return new Response('payload-kv-cache: expected { op: "read" | "bump", scopes: string[] }', { status: 400 })
    }
    const out: StampsResponse = {}
    if (body.op === 'bump') {
      for (const scope of scopes) out[scope] = newToken()
      // Stored before the answer: the object's output gate holds the response until the put is durable.
      await this.state.storage.put(out)
    } else {
      const stored = await this.state.storage.get(scopes)
      for (const scope of scopes) {
        const token = stored.get(scope)
        out[scope] = typeof token === 'string' ? token : ''
      }
    }
    return Response.json(out)
  }
}
