import config from '@payload-config'
import type { Payload, Where } from 'payload'
import { getPayload } from 'payload'

export type SearchParams = Promise<Record<string, string | string[] | undefined>>

/**
 * Runs a page's Local API reads. With `?cache=off` they run inside `kvCache.run({ bypass: true })`,
 * so every read goes to Postgres: the same app rendering the same page without the cache, which
 * the browser test compares with the cached render.
 */
export async function load<T>(searchParams: SearchParams, read: (payload: Payload) => Promise<T>): Promise<T> {
  const payload = await getPayload({ config })
  const cache = payload.db.kvCache
  if ((await searchParams).cache === 'off' && cache) return cache.run({ bypass: true }, () => read(payload))
  return read(payload)
}

/** What the public sees: the published version only (`draft: false` reads the main table, never a draft saved over it). */
export const published: Where = { _status: { equals: 'published' } }

export interface Named {
  id: number | string
  title?: string
  name?: string
}

/** A populated relationship (depth 1) or a bare id. */
export const named = (value: unknown): Named | undefined =>
  value !== null && typeof value === 'object' && 'id' in value ? (value as Named) : undefined
