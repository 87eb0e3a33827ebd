/**
 * The editorial site's content. Bundled into the bench Worker: no Node built-ins. Fixed
 * content and fixed dates, so every run (and both backends) starts from the same site.
 */
import type { Payload } from 'payload'

export interface EditorialIds {
  authors: Array<number | string>
  categories: Array<number | string>
  /** Published posts, oldest first. */
  posts: Array<number | string>
  /** Posts an editor is still writing (never published), oldest first. */
  drafts: Array<number | string>
}

export const SEED = {
  authors: [
    'Ada Lovelace',
    'Grace Hopper',
    'Alan Turing',
    'Edsger Dijkstra',
    'Barbara Liskov',
    'Donald Knuth',
    'Margaret Hamilton',
    'Ken Thompson',
  ],
  categories: ['Politics', 'Business', 'Technology', 'Science', 'Culture', 'Sport', 'Opinion', 'World'],
  posts: 200,
  drafts: 4,
} as const

/** Posts are published an hour apart from here; new ones continue the sequence. */
const EPOCH = Date.UTC(2026, 0, 1)
export const publishedAt = (n: number): string => new Date(EPOCH + n * 3_600_000).toISOString()

const slugOf = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, '-')

/** A few paragraphs: what an article body weighs in a cached entry. */
export const bodyText = (n: number, revision = 0): string =>
  Array.from({ length: 6 }, (_, p) => `Paragraph ${p + 1} of article ${n}, revision ${revision}. `.repeat(8)).join('\n\n')

export function postData(n: number, ids: { authors: EditorialIds['authors']; categories: EditorialIds['categories'] }) {
  const category = SEED.categories[n % SEED.categories.length]!
  return {
    title: `${category} story #${n}`,
    slug: `${slugOf(category)}-story-${n}`,
    excerpt: `What happened in ${category.toLowerCase()}, story ${n}.`,
    body: bodyText(n),
    category: ids.categories[n % ids.categories.length]!,
    // Not the same rotation as categories, so each author writes across several.
    author: ids.authors[(n * 3) % ids.authors.length]!,
  }
}

export async function seedEditorial(payload: Payload): Promise<EditorialIds> {
  const authors: Array<number | string> = []
  for (const name of SEED.authors)
    authors.push((await payload.create({ collection: 'authors', data: { name, slug: slugOf(name), bio: `${name} reports for us.` } })).id)
  const categories: Array<number | string> = []
  for (const title of SEED.categories)
    categories.push((await payload.create({ collection: 'categories', data: { title, slug: slugOf(title) } })).id)
  const posts: Array<number | string> = []
  for (let n = 0; n < SEED.posts; n++) {
    const data = { ...postData(n, { authors, categories }), publishedAt: publishedAt(n), _status: 'published' as const }
    posts.push((await payload.create({ collection: 'posts', data })).id)
  }
  const drafts: Array<number | string> = []
  for (let n = SEED.posts; n < SEED.posts + SEED.drafts; n++)
    drafts.push(
      (await payload.create({ collection: 'posts', draft: true, data: { ...postData(n, { authors, categories }), _status: 'draft' } })).id,
    )
  await payload.updateGlobal({
    slug: 'header',
    data: { siteName: 'The Daily Bench', nav: SEED.categories.map((label, i) => ({ label, category: categories[i]! })) },
  })
  await payload.updateGlobal({
    slug: 'footer',
    data: {
      text: '© The Daily Bench',
      links: ['About', 'Contact', 'Privacy', 'Terms'].map((label) => ({ label, url: `/${slugOf(label)}` })),
    },
  })
  return { authors, categories, posts, drafts }
}
