import { notFound } from 'next/navigation'
import { load, named, published, type SearchParams } from '../../data'

export const dynamic = 'force-dynamic'

/** One post, if published. A find by id and status rather than findByID, which would also return a never-published draft. */
export default async function PostPage({ params, searchParams }: { params: Promise<{ id: string }>; searchParams: SearchParams }) {
  const { id } = await params
  const result = await load(searchParams, (payload) =>
    payload.find({ collection: 'posts', where: { and: [{ id: { equals: id } }, published] }, limit: 1, depth: 1, draft: false }),
  )
  const post = result.docs[0]
  if (!post) notFound()
  const categories = Array.isArray(post.categories) ? post.categories.map(named) : []
  return (
    <article>
      <h1>{String(post.title)}</h1>
      <p className="meta">
        by {named(post.author)?.name ?? 'nobody'} · in{' '}
        {categories.map((category, index) =>
          category ? (
            <span key={category.id}>
              {index > 0 ? ', ' : ''}
              <a href={`/categories/${category.id}`}>{category.title}</a>
            </span>
          ) : null,
        )}
      </p>
      <p>{String(post.body ?? '')}</p>
    </article>
  )
}
