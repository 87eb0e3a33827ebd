import { afterEach, beforeAll } from '@jest/globals'
import type { Payload } from 'payload'
import type { CacheStats, KVNamespaceLike } from '../../src/index.js'
import { keyNamespace as namespaceOf } from '../../src/fingerprint.js'
import type { Pair } from './app.js'
import type { TestEnv } from './env.js'
import type { CallLog } from './spy.js'
import { spyOnDatabase } from './spy.js'

/** Reading what the cache did: adapter calls made as Payload makes them, KV's keys, counter changes. */

export type AdapterCall = (args: Record<string, unknown>) => Promise<unknown>

/** The adapter methods, called the way Payload calls them. */
export const db = (payload: Payload): Record<string, AdapterCall> => payload.db as unknown as Record<string, AdapterCall>

/** What the engine digests besides the arguments (fingerprint.ts): read off the adapter and config as the engine does. */
export const keyNamespace = (p: { cached: { db: unknown; config: unknown } }): string => namespaceOf(p.cached.db, p.cached.config)

/** Every key under `prefix`, through all of KV's list pages. */
export async function listAll(kv: KVNamespaceLike, prefix?: string): Promise<string[]> {
  const names: string[] = []
  let cursor: string | undefined
  for (;;) {
    const page = await kv.list({ prefix: prefix ?? null, cursor: cursor ?? null })
    names.push(...page.keys.map((key) => key.name))
    if (page.list_complete || !page.cursor) return names
    cursor = page.cursor
  }
}

/** The counters that moved, by how much. */
export function delta(before: CacheStats, after: CacheStats): Partial<CacheStats> {
  const out: Partial<CacheStats> = {}
  for (const name of Object.keys(after) as Array<keyof CacheStats>) {
    if (after[name] !== before[name]) out[name] = after[name] - before[name]
  }
  return out
}

/**
 * Starts a test from an empty cache: `invalidateAll()`, then `settled()`, so that the test's
 * first fill is the entry its next read hits. Tests sharing a pair invalidate everything
 * within a second of each other, and the third such write within a second is a burst (README
 * *Write bursts*): once it has landed, the stamp's writer puts one more token, which ends the
 * burst for other isolates and, like any new token, moves the stamp on, so an entry filled
 * before that token lands is filled once more. `invalidateAll()` resolves once its own token
 * has landed; `settled()` waits for the closing one too (README, *The cache handle*).
 */
export async function emptyCache(pair: Pair): Promise<void> {
  await pair.cache.invalidateAll()
  await pair.cache.settled()
}

export interface NotesPair {
  pair: Pair
  /** The inner adapter's calls: what reached the database. */
  log: CallLog
  /** alpha, beta, gamma; tests that change a note's text record it here. */
  notes: Array<{ id: number | string; text: string }>
}

/**
 * A pair under `prefix` holding three notes and one user (Ada), shared by the file's tests:
 * started before them, settled after each. Read its fields inside tests, once it has started.
 */
export function useNotesPair(env: TestEnv, prefix: string): NotesPair {
  const fixture = { notes: [] } as unknown as NotesPair
  beforeAll(async () => {
    fixture.pair = await env.newPair({ prefix })
    for (const text of ['alpha', 'beta', 'gamma']) {
      const note = await fixture.pair.cached.create({ collection: 'notes', data: { text } })
      fixture.notes.push({ id: note.id, text })
    }
    await fixture.pair.cached.create({ collection: 'users', data: { email: 'ada@example.com', password: 'secret-1', name: 'Ada' } })
    fixture.log = spyOnDatabase(fixture.pair.cached)
  })
  afterEach(async () => {
    await fixture.pair.cache.settled()
  })
  return fixture
}
