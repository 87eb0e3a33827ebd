import { load, named, published, type SearchParams } from './data'

export const dynamic = 'force-dynamic'

/** The home page: every published post, newest first, through the Local API (cached reads). */
export default async function Home({ searchParams }: { searchParams: SearchParams }) {
  const posts = await load(searchParams, (payload) =>
    payload.find({ collection: 'posts', where: published, sort: '-createdAt', limit: 100, depth: 1, draft: false }),
  )
  return (
    <>
      <h1>Latest posts</h1>
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
