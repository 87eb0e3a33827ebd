import type { Payload } from 'payload'

export interface Ids {
  authors: Array<number | string>
  categories: Array<number | string>
  posts: Array<number | string>
  authorNames: string[]
}

const NAMES = [
  'Ada Lovelace',
  'Grace Hopper',
  'Alan Turing',
  'Edsger Dijkstra',
  'Barbara Liskov',
  'Donald Knuth',
  'Margaret Hamilton',
  'Ken Thompson',
]
const TOPICS = ['Compilers', 'Databases', 'Networks', 'Security', 'Design', 'History']

/** A magazine's worth of content, in English and German, some of it still in draft. */
export async function seed(payload: Payload): Promise<Ids> {
  const authors = []
  for (const name of NAMES) authors.push(await payload.create({ collection: 'authors', data: { name, bio: `${name} writes here.` } }))
  const categories = []
  for (const title of TOPICS) categories.push(await payload.create({ collection: 'categories', data: { title } }))
  const posts = []
  for (let i = 0; i < 60; i++) {
    const post = await payload.create({
      collection: 'posts',
      data: {
        title: `${TOPICS[i % TOPICS.length]} notes #${i}`,
        body: `Post ${i}. `.repeat(40),
        views: (i * 37) % 500,
        author: authors[i % authors.length]!.id,
        categories: [categories[i % categories.length]!.id, categories[(i + 2) % categories.length]!.id],
        _status: i % 10 === 9 ? 'draft' : 'published',
      },
      draft: i % 10 === 9,
    })
    await payload.update({
      collection: 'posts',
      id: post.id,
      locale: 'de',
      data: { title: `${TOPICS[i % TOPICS.length]}, Notiz ${i}` },
      draft: i % 10 === 9,
    })
    posts.push(post)
  }
  await payload.updateGlobal({ slug: 'site', data: { title: 'The Magazine', featured: posts.slice(0, 3).map((p) => p.id) } })
  await payload.updateGlobal({ slug: 'site', locale: 'de', data: { title: 'Das Magazin' } })
  return { authors: authors.map((a) => a.id), categories: categories.map((c) => c.id), posts: posts.map((p) => p.id), authorNames: NAMES }
}
