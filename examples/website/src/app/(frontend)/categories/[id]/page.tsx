import { notFound } from 'next/navigation'
import { load, named, published, type SearchParams } from '../../data'

export const dynamic = 'force-dynamic'

/** A category and its published posts. */
export default async function CategoryPage({ params, searchParams }: { params: Promise<{ id: string }>; searchParams: SearchParams }) {
  const { id } = await params
  const { category, posts } = await load(searchParams, async (payload) => {
    const categories = await payload.find({ collection: 'categories', where: { id: { equals: id } }, limit: 1 })
    const posts = await payload.find({
      collection: 'posts',
      where: { and: [{ categories: { in: [id] } }, published] },
      sort: '-createdAt',
      limit: 100,
      depth: 1,
      draft: false,
    })
    return { category: categories.docs[0], posts }
  })
  if (!category) notFound()
  return (
    <>
      <h1>{String(category.title)}</h1>
      <ul>
        {posts.docs.map((post) => (
          <li key={post.id}>
            <a href={`/posts/${post.id}`}>{String(post.title)}</a> <span className="meta">by {named(post.author)?.name ?? 'nobody'}</span>
          </li>
        ))}
      </ul>
    </>
  )
}
