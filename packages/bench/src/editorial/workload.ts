/**
 * The editorial workload: what a newsroom's front end asks for, and what its editors save.
 * Seeded, so every variant of a run (and both backends) gets the same sequence; stateful,
 * because editors create and delete posts and later requests follow what exists.
 *
 * Reads, as shares of GETs (each line: why that much):
 *   article   30 %  GET /api/posts/:id?depth=1: most visits land on one article (search, social links)
 *   related    8 %  the article page's "more in this category": category = X, id ≠ the article, select, limit 4
 *   home      14 %  latest 12 published posts: the front page, the busiest list on the site
 *   category  12 %  category = X, newest first, limit 10 (pages 1-3): section fronts
 *   author     5 %  author = X, newest first, limit 10: author pages are visited less than sections
 *   count      6 %  /api/posts/count for a category's or author's pagination
 *   archive    5 %  newest first, select title/slug/publishedAt/category, limit 24, pages 1-8
 *   header     8 %  the header global (navigation populates categories): fetched by every page render that misses its own cache
 *   footer     6 %  the footer global: the same, slightly less often (some pages render without it)
 *   profile    3 %  GET /api/authors/:id: author profile boxes
 *   sections   3 %  GET /api/categories: the section index
 * Popularity is Zipf everywhere: newest posts, first categories and authors, first pages most.
 *
 * Writes, as shares of editors' saves:
 *   edit                40 %  body (and sometimes title) of a live post: corrections and updates are most saves
 *   autosave            15 %  autosave while writing a new article: fires every few seconds of typing
 *   start-draft          5 %  a new article begins (its first autosave creates the draft)
 *   draft-of-published  10 %  "save draft" on a live post: a version, the live post unchanged
 *   publish-draft        6 %  a draft goes live: a new post at the top of home, its category and author
 *   publish-new          2 %  a short item written and published in one save
 *   move                 7 %  a post moved to another category (re-filing after publication)
 *   delete               5 %  old posts taken down (legal, duplicates)
 *   author              10 %  an author's name or bio edited
 * Edited posts are Zipf by recency too: editors work on what was just published.
 */
import { random, zipf } from '@pkc/testkit'
import type { EditorialIds } from './seed.js'
import { SEED } from './seed.js'
import type { EditorialWrite, Id } from './writes.js'

export type PageType = 'by id' | 'list' | 'count' | 'global' | 'other'
export const PAGE_TYPES: readonly PageType[] = ['by id', 'list', 'count', 'global', 'other']

export type Read = { kind: 'read'; path: string; page: PageType; name: ReadName }
export type EditorialStep = Read | { kind: 'write'; write: EditorialWrite }

const READS = [
  ['article', 30],
  ['related', 8],
  ['home', 14],
  ['category', 12],
  ['author', 5],
  ['count', 6],
  ['archive', 5],
  ['header', 8],
  ['footer', 6],
  ['profile', 3],
  ['sections', 3],
] as const satisfies ReadonlyArray<readonly [string, number]>

/** The workload's own kinds of page (finer than `PageType`): what a per-page figure is reported by. */
export type ReadName = (typeof READS)[number][0]
export const READ_NAMES: readonly ReadName[] = READS.map(([name]) => name)

const WRITES = [
  ['edit', 40],
  ['autosave', 15],
  ['start-draft', 5],
  ['draft-of-published', 10],
  ['publish-draft', 6],
  ['publish-new', 2],
  ['move', 7],
  ['delete', 5],
  ['author', 10],
] as const satisfies ReadonlyArray<readonly [EditorialWrite['kind'], number]>

export const WRITE_KINDS: readonly EditorialWrite['kind'][] = WRITES.map(([kind]) => kind)

function pick<T extends string>(rnd: () => number, table: ReadonlyArray<readonly [T, number]>): T {
  const total = table.reduce((sum, [, weight]) => sum + weight, 0)
  let x = rnd() * total
  for (const [name, weight] of table) {
    x -= weight
    if (x <= 0) return name
  }
  return table[table.length - 1]![0]
}

const q = (params: Record<string, string | number>) =>
  new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString()

/**
 * The sequence of requests, decided one at a time: `next()` is the next step, and a write's
 * created id is handed back with `created()` before the following `next()`.
 */
export class EditorialWorkload {
  private readonly rnd: () => number
  /** Live published posts, newest first: index 0 is the most popular. */
  private readonly live: Id[]
  /** Unpublished drafts being written, oldest first. */
  private readonly drafts: Id[]
  private readonly categories: Id[]
  private readonly authors: Id[]
  private revision = 0
  /** Sequence number of the next post created (continues the seed's) and of the next publication. */
  private nextPost: number = SEED.posts + SEED.drafts
  private nextPublication: number = SEED.posts
  private pending: { kind: 'draft' | 'live' } | undefined

  constructor(
    ids: EditorialIds,
    private readonly writeShare: number,
    seed = 7,
  ) {
    this.rnd = random(seed)
    this.live = [...ids.posts].reverse()
    this.drafts = [...ids.drafts]
    this.categories = ids.categories
    this.authors = ids.authors
  }

  next(): EditorialStep {
    if (this.pending) throw new Error('created() was not called for the last create')
    const isWrite = this.rnd() < this.writeShare
    return isWrite ? { kind: 'write', write: this.nextWrite() } : this.nextRead()
  }

  /** The id the last create answered (undefined for other writes). */
  created(id: Id | undefined): void {
    if (!this.pending) return
    if (id === undefined) throw new Error('a create answered no id')
    if (this.pending.kind === 'draft') this.drafts.push(id)
    else this.live.unshift(id)
    this.pending = undefined
  }

  private post(): Id {
    return this.live[zipf(this.rnd, this.live.length)]!
  }

  private nextRead(): Read {
    const rnd = this.rnd
    const category = () => this.categories[zipf(rnd, this.categories.length)]!
    const author = () => this.authors[zipf(rnd, this.authors.length)]!
    const name = pick(rnd, READS)
    const read = (page: PageType, path: string): Read => ({ kind: 'read', page, name, path })
    switch (name) {
      case 'article':
        return read('by id', `/api/posts/${this.post()}?${q({ depth: 1 })}`)
      case 'related': {
        // The article's own category is not known without reading it; the front end has it from the article.
        const article = this.post()
        return read(
          'list',
          `/api/posts?${q({
            'where[category][equals]': category(),
            'where[id][not_equals]': article,
            sort: '-publishedAt',
            limit: 4,
            depth: 0,
            'select[title]': 'true',
            'select[slug]': 'true',
            'select[publishedAt]': 'true',
          })}`,
        )
      }
      case 'home':
        return read('list', `/api/posts?${q({ sort: '-publishedAt', limit: 12, depth: 1 })}`)
      case 'category':
        return read(
          'list',
          `/api/posts?${q({ 'where[category][equals]': category(), sort: '-publishedAt', limit: 10, page: 1 + zipf(rnd, 3), depth: 1 })}`,
        )
      case 'author':
        return read('list', `/api/posts?${q({ 'where[author][equals]': author(), sort: '-publishedAt', limit: 10, depth: 1 })}`)
      case 'count':
        return read(
          'count',
          rnd() < 0.7
            ? `/api/posts/count?${q({ 'where[category][equals]': category() })}`
            : `/api/posts/count?${q({ 'where[author][equals]': author() })}`,
        )
      case 'archive':
        return read(
          'list',
          `/api/posts?${q({
            sort: '-publishedAt',
            limit: 24,
            page: 1 + zipf(rnd, 8),
            depth: 0,
            'select[title]': 'true',
            'select[slug]': 'true',
            'select[publishedAt]': 'true',
            'select[category]': 'true',
          })}`,
        )
      case 'header':
        return read('global', `/api/globals/header?${q({ depth: 1 })}`)
      case 'footer':
        return read('global', `/api/globals/footer?${q({ depth: 0 })}`)
      case 'profile':
        return read('by id', `/api/authors/${author()}?${q({ depth: 0 })}`)
      case 'sections':
        return read('other', `/api/categories?${q({ sort: 'title', limit: 50, depth: 0 })}`)
    }
  }

  private nextWrite(): EditorialWrite {
    const rnd = this.rnd
    const revision = ++this.revision
    let kind = pick(rnd, WRITES)
    // Keep the site from draining: never delete below half the seeded posts; with no draft
    // in progress, autosave and publishing start one first.
    if (kind === 'delete' && this.live.length <= SEED.posts / 2) kind = 'edit'
    if ((kind === 'autosave' || kind === 'publish-draft') && this.drafts.length === 0) kind = 'start-draft'
    switch (kind) {
      case 'edit':
        return { kind, id: this.post(), revision }
      case 'draft-of-published':
        return { kind, id: this.post(), revision }
      case 'start-draft':
        this.pending = { kind: 'draft' }
        return { kind, n: this.nextPost++ }
      case 'autosave':
        // The newest draft: the one the editor is typing in.
        return { kind, id: this.drafts[this.drafts.length - 1]!, revision }
      case 'publish-draft': {
        const id = this.drafts.shift()!
        this.live.unshift(id)
        return { kind, id, at: this.nextPublication++ }
      }
      case 'publish-new':
        this.pending = { kind: 'live' }
        return { kind, n: this.nextPost++, at: this.nextPublication++ }
      case 'move': {
        const id = this.post()
        return { kind, id, category: this.categories[Math.floor(rnd() * this.categories.length)]! }
      }
      case 'delete': {
        // Old posts: uniformly from the older half, which few readers still visit.
        const index = Math.floor(this.live.length / 2 + rnd() * (this.live.length / 2))
        const [id] = this.live.splice(Math.min(index, this.live.length - 1), 1)
        return { kind, id: id! }
      }
      case 'author':
        return { kind, id: this.authors[Math.floor(rnd() * this.authors.length)]!, revision }
    }
  }
}

/** The mixes of the runs: the share of requests that are editors' saves. */
export const EDITORIAL_MIXES = [0.005, 0.05, 0.2] as const
