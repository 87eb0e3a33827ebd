import { isDeepStrictEqual } from 'node:util'
import type { Payload } from 'payload'

export type Snapshot = Record<string, Array<Record<string, unknown>>>

const COLLECTIONS = ['authors', 'categories', 'posts', 'notes', 'comments'] as const

/**
 * Everything the test site's database holds, read without the cache: every document in
 * every locale with its drafts, every version, the globals. Timestamps are dropped (two runs
 * never write in the same millisecond); ids are kept, since a replay on a fresh database
 * creates the same ones.
 */
export async function snapshot(payload: Payload): Promise<Snapshot> {
  const out: Snapshot = {}
  for (const collection of COLLECTIONS) {
    const { docs } = await payload.find({ collection, pagination: false, depth: 0, locale: 'all', draft: true, sort: 'id', joins: false })
    out[collection] = docs
  }
  out['posts versions'] = (await payload.findVersions({ collection: 'posts', pagination: false, depth: 0, locale: 'all', sort: 'id' })).docs
  out.settings = [await payload.findGlobal({ slug: 'settings', depth: 0, locale: 'all', draft: true })]
  out['settings versions'] = (
    await payload.findGlobalVersions({ slug: 'settings', pagination: false, depth: 0, locale: 'all', sort: 'id' })
  ).docs
  return withoutTimestamps(out) as Snapshot
}

function withoutTimestamps(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutTimestamps)
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const [key, inner] of Object.entries(value)) {
    if (key === 'createdAt' || key === 'updatedAt') continue
    out[key] = withoutTimestamps(inner)
  }
  return out
}

/** Documents (and versions) that one snapshot has and the other lacks or holds differently. */
export function differences(actual: Snapshot, expected: Snapshot): string[] {
  const out: string[] = []
  for (const part of new Set([...Object.keys(actual), ...Object.keys(expected)])) {
    const byId = (docs: Array<Record<string, unknown>> | undefined) =>
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- an id is a string or a number (Mongo's ObjectId prints its hex id)
      new Map((docs ?? []).map((doc, i) => [String(doc.id ?? i), doc]))
    const mine = byId(actual[part])
    const theirs = byId(expected[part])
    for (const id of new Set([...mine.keys(), ...theirs.keys()])) {
      if (!isDeepStrictEqual(mine.get(id), theirs.get(id))) out.push(`${part} ${id}`)
    }
  }
  return out
}
