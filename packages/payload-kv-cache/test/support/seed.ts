import type { Payload } from 'payload'

export interface Seed {
  authors: Array<{ id: number | string; name: string }>
  categories: Array<{ id: number | string; title: string }>
  posts: Array<{ id: number | string; title: string }>
}

/** A small, fixed data set with relationships, localized values, drafts and global versions. */
export async function seed(payload: Payload): Promise<Seed> {
  const authors = []
  for (const name of ['Ada', 'Grace', 'Linus'])
    authors.push(await payload.create({ collection: 'authors', data: { name, bio: `${name} writes.` } }))
  const categories = []
  for (const title of ['News', 'Tech']) categories.push(await payload.create({ collection: 'categories', data: { title } }))
  const posts = []
  for (let i = 0; i < 8; i++) {
    const post = await payload.create({
      collection: 'posts',
      data: {
        title: `Post ${i}`,
        body: `Body ${i}`,
        views: (i * 7) % 5,
        publishedOn: new Date(Date.UTC(2025, 0, i + 1)).toISOString(),
        author: authors[i % authors.length]!.id,
        categories: [categories[i % 2]!.id],
        tags: i % 2 ? ['news'] : ['tech', 'life'],
        meta: { score: i * 1.5, note: i % 3 ? `note ${i}` : null },
        data: { n: i, nested: { list: [i, 'x'] } },
        _status: i < 6 ? 'published' : 'draft',
      },
      draft: i >= 6,
    })
    await payload.update({ collection: 'posts', id: post.id, locale: 'de', data: { title: `Beitrag ${i}` }, draft: i >= 6 })
    posts.push(post)
  }
  await payload.updateGlobal({ slug: 'settings', data: { siteName: 'Site', featured: posts[0]!.id } })
  await payload.updateGlobal({ slug: 'settings', locale: 'de', data: { siteName: 'Seite' } })
  await payload.updateGlobal({ slug: 'settings', data: { siteName: 'Site draft' }, draft: true })
  // Seeding bursts writes: let the trailing stamp writes land before tests expect hits.
  await payload.db.kvCache?.settled()
  return {
    authors: authors.map((a) => ({ id: a.id, name: a.name as string })),
    categories: categories.map((c) => ({ id: c.id, title: c.title as string })),
    posts: posts.map((p) => ({ id: p.id, title: p.title as string })),
  }
}
