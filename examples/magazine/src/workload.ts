import { random, zipf } from '@pkc/testkit'
import type { Ids } from './seed.js'

export type Step = { kind: 'read'; path: string } | { kind: 'write'; id: number | string; views: number }

const q = (params: Record<string, string | number>) =>
  new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString()

/** The URLs a magazine front end asks for, most popular first; 95 % reads, 5 % edits. */
export function workload(ids: Ids, count: number, seed = 42): Step[] {
  const pages: string[] = [
    `/api/posts?${q({ limit: 10, sort: '-views', depth: 1 })}`,
    `/api/globals/site?${q({ depth: 1 })}`,
    ...ids.posts.slice(0, 20).map((id) => `/api/posts/${id}?${q({ depth: 1 })}`),
    `/api/posts?${q({ limit: 10, sort: '-createdAt', locale: 'de' })}`,
    `/api/categories?${q({ limit: 50, sort: 'title' })}`,
    ...ids.authors.map((id) => `/api/posts?${q({ 'where[author][equals]': id, limit: 5, depth: 0 })}`),
    ...ids.authors.map((id) => `/api/authors/${id}?${q({ depth: 0 })}`),
    ...ids.authorNames.slice(0, 4).map((name) => `/api/posts?${q({ 'where[author.name][equals]': name, depth: 0 })}`),
    `/api/posts?${q({ 'where[views][greater_than]': 250, sort: 'title', limit: 20, depth: 0 })}`,
    ...ids.posts.slice(20).map((id) => `/api/posts/${id}?${q({ depth: 0, locale: 'de' })}`),
  ]
  // Seeded (mulberry32): the same sequence for the same seed, so both runs see the same requests.
  const rnd = random(seed)
  const steps: Step[] = []
  for (let i = 0; i < count; i++) {
    if (rnd() < 0.05) steps.push({ kind: 'write', id: ids.posts[zipf(rnd, ids.posts.length)]!, views: Math.floor(rnd() * 1000) })
    else steps.push({ kind: 'read', path: pages[zipf(rnd, pages.length)]! })
  }
  return steps
}
