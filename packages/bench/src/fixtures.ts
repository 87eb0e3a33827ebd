/**
 * Fixed inputs for section 3, shaped like what Payload hands a database adapter and what a
 * drizzle adapter returns: argument objects with access control merged into `where`, and
 * result pages whose documents carry Lexical rich text.
 */

/** What `req` looks like by the time it reaches an adapter: the key must leave it out. */
const req = {
  transactionID: undefined,
  locale: 'en',
  fallbackLocale: ['en'],
  context: {},
  user: null,
  payloadAPI: 'REST',
  query: {},
  i18n: { language: 'en' },
}

export const ARGUMENTS: Array<{ name: string; operation: 'find' | 'findOne'; args: Record<string, unknown> }> = [
  {
    name: 'findOne by id',
    operation: 'findOne',
    args: {
      collection: 'posts',
      where: { and: [{ id: { equals: 42 } }, { _status: { equals: 'published' } }] },
      locale: 'en',
      draftsEnabled: false,
      select: undefined,
      joins: undefined,
      req,
    },
  },
  {
    name: 'find: where, sort, limit',
    operation: 'find',
    args: {
      collection: 'posts',
      where: {
        and: [
          { views: { greater_than: 250 } },
          { 'author.name': { equals: 'Grace Hopper' } },
          { or: [{ _status: { equals: 'published' } }, { _status: { exists: false } }] },
        ],
      },
      sort: ['-publishedAt', 'title'],
      limit: 20,
      page: 1,
      pagination: true,
      locale: 'en',
      draftsEnabled: false,
      select: { title: true, slug: true, excerpt: true, author: true, publishedAt: true },
      req,
    },
  },
  {
    name: 'findOne with joins',
    operation: 'findOne',
    args: {
      collection: 'authors',
      where: { id: { equals: 7 } },
      joins: { posts: { limit: 10, sort: '-createdAt', where: { _status: { equals: 'published' } }, count: true }, drafts: false },
      locale: 'de',
      draftsEnabled: true,
      req,
    },
  },
]

const words = 'the cache answers reads from KV while every write that commits invalidates exactly the reads it can change'.split(' ')
const sentence = (seed: number, length: number) => Array.from({ length }, (_, i) => words[(seed * 7 + i * 3) % words.length]).join(' ')

const text = (value: string, format = 0) => ({ type: 'text', text: value, format, style: '', mode: 'normal', detail: 0, version: 1 })

/** A Lexical editor state as Payload's richText field stores it: headings, paragraphs, a list, a link. */
function lexical(seed: number): unknown {
  const paragraph = (n: number) => ({
    type: 'paragraph',
    format: '',
    indent: 0,
    version: 1,
    direction: 'ltr',
    textFormat: 0,
    children: [
      text(sentence(seed + n, 14)),
      text(sentence(seed + n + 1, 3), 1),
      {
        type: 'link',
        fields: { url: `https://example.com/${seed}/${n}`, newTab: false, linkType: 'custom' },
        format: '',
        indent: 0,
        version: 3,
        direction: 'ltr',
        children: [text('read more')],
      },
      text(`${sentence(seed + n + 2, 10)}.`),
    ],
  })
  return {
    root: {
      type: 'root',
      format: '',
      indent: 0,
      version: 1,
      direction: 'ltr',
      children: [
        { type: 'heading', tag: 'h2', format: '', indent: 0, version: 1, direction: 'ltr', children: [text(sentence(seed, 6))] },
        paragraph(1),
        paragraph(2),
        {
          type: 'list',
          listType: 'bullet',
          start: 1,
          tag: 'ul',
          format: '',
          indent: 0,
          version: 1,
          direction: 'ltr',
          children: [1, 2, 3].map((value) => ({
            type: 'listitem',
            value,
            checked: undefined,
            format: '',
            indent: 0,
            version: 1,
            direction: 'ltr',
            children: [text(sentence(seed + value, 8))],
          })),
        },
        paragraph(3),
      ],
    },
  }
}

/** One post as the adapter returns it at depth 0, with the keys drizzle leaves undefined. */
function post(i: number): Record<string, unknown> {
  return {
    id: i + 1,
    title: `Notes on caching #${i}`,
    slug: `notes-on-caching-${i}`,
    excerpt: sentence(i, 24),
    content: lexical(i),
    views: (i * 37) % 500,
    author: (i % 8) + 1,
    categories: [(i % 6) + 1, ((i + 2) % 6) + 1],
    meta: { title: `Notes on caching #${i}`, description: sentence(i + 1, 18), image: null },
    publishedAt: '2026-11-01T09:30:00.000Z',
    heroImage: undefined,
    _status: 'published',
    updatedAt: '2026-11-28T17:04:11.512Z',
    createdAt: '2026-11-01T09:30:00.000Z',
  }
}

/** A `find` result page, as Payload's pagination returns it. */
export function page(size: number): Record<string, unknown> {
  return {
    docs: Array.from({ length: size }, (_, i) => post(i)),
    totalDocs: 240,
    limit: size,
    totalPages: Math.ceil(240 / size),
    page: 1,
    pagingCounter: 1,
    hasPrevPage: false,
    hasNextPage: true,
    prevPage: null,
    nextPage: 2,
  }
}
