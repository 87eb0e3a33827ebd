import { describe, expect, it } from '@jest/globals'
import { ReadPaths } from '../src/paths.js'

/** Precise per-read dependencies, resolved against a config shaped like Payload's sanitized one. */
const config = {
  blocks: [{ slug: 'quote', fields: [{ name: 'source', type: 'relationship', relationTo: 'sources' }] }],
  collections: [
    {
      slug: 'posts',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'author', type: 'relationship', relationTo: 'authors' },
        { name: 'owner', type: 'relationship', relationTo: ['authors', 'teams'] },
        { name: 'cover', type: 'upload', relationTo: 'media' },
        { name: 'meta', type: 'group', fields: [{ name: 'editor', type: 'relationship', relationTo: 'editors' }] },
        { type: 'row', fields: [{ name: 'reviewer', type: 'relationship', relationTo: 'reviewers' }] },
        {
          type: 'tabs',
          tabs: [
            { name: 'seo', fields: [{ name: 'image', type: 'upload', relationTo: 'media' }] },
            { label: 'x', fields: [{ name: 'tagged', type: 'relationship', relationTo: 'tags', hasMany: true }] },
          ],
        },
        { name: 'links', type: 'array', fields: [{ name: 'doc', type: 'relationship', relationTo: 'docs' }] },
        {
          name: 'layout',
          type: 'blocks',
          blocks: [{ slug: 'cta', fields: [{ name: 'page', type: 'relationship', relationTo: 'pages' }] }],
          blockReferences: ['quote'],
        },
        { name: 'authorName', type: 'text', virtual: 'author.name' },
      ],
    },
    {
      slug: 'authors',
      fields: [
        { name: 'name', type: 'text' },
        { name: 'team', type: 'relationship', relationTo: 'teams' },
        { name: 'posts', type: 'join', collection: 'posts', on: 'author' },
        { name: 'everything', type: 'join', collection: ['posts', 'notes'], on: 'author' },
      ],
    },
    {
      slug: 'teams',
      fields: [
        { name: 'org', type: 'relationship', relationTo: 'orgs' },
        { name: 'name', type: 'text' },
      ],
    },
    { slug: 'orgs', fields: [{ name: 'name', type: 'text' }] },
    {
      slug: 'plain',
      fields: [
        { name: 'text', type: 'text' },
        { name: 'ref', type: 'relationship', relationTo: 'orgs' },
      ],
    },
  ],
  globals: [{ slug: 'settings', fields: [{ name: 'featured', type: 'relationship', relationTo: 'posts' }] }],
}

const paths = new ReadPaths(config, 'sql')
const deps = (operation: string, scope: `c:${string}` | `g:${string}`, args: Record<string, unknown>) =>
  paths.dependenciesOfCall(operation, scope, args)

describe('precise read dependencies', () => {
  it('a read touching no relationship depends on its own scope only', () => {
    expect(deps('find', 'c:plain', { where: { text: { equals: 'a' } }, sort: '-text' })).toEqual(['c:plain'])
    expect(deps('find', 'c:plain', { where: { ref: { equals: 1 } }, sort: 'ref' })).toEqual(['c:plain'])
    expect(deps('findGlobal', 'g:settings', {})).toEqual(['g:settings'])
  })

  it.each([
    ['a where path through a relationship', { where: { 'author.name': { equals: 'x' } } }, ['c:authors', 'c:posts']],
    ['the nested object form', { where: { author: { name: { equals: 'x' } } } }, ['c:authors', 'c:posts']],
    [
      'inside and / or',
      { where: { or: [{ title: { equals: 'a' } }, { and: [{ 'cover.alt': { exists: true } }] }] } },
      ['c:media', 'c:posts'],
    ],
    ['a sort through a relationship', { sort: ['-title', 'author.name'] }, ['c:authors', 'c:posts']],
    ['a chain A → B → C', { where: { 'author.team.org.name': { like: 'a' } } }, ['c:authors', 'c:orgs', 'c:posts', 'c:teams']],
    ['a group', { where: { 'meta.editor.name': { equals: 'x' } } }, ['c:editors', 'c:posts']],
    ['a row (no path segment)', { sort: 'reviewer.name' }, ['c:posts', 'c:reviewers']],
    ['a named tab', { where: { 'seo.image.alt': { exists: true } } }, ['c:media', 'c:posts']],
    ['an unnamed tab', { where: { 'tagged.label': { in: ['a'] } } }, ['c:posts', 'c:tags']],
    ['an array', { where: { 'links.doc.title': { equals: 'x' } } }, ['c:docs', 'c:posts']],
    ['a block', { where: { 'layout.page.slug': { equals: 'x' } } }, ['c:pages', 'c:posts']],
    ['a block reference', { where: { 'layout.source.name': { equals: 'x' } } }, ['c:posts', 'c:sources']],
    ['a polymorphic relationship into its targets', { where: { 'owner.name': { equals: 'x' } } }, ['c:authors', 'c:posts', 'c:teams']],
  ])('%s', (_, args, expected) => {
    // The virtual field linked to author.name always reads authors.
    const result = deps('find', 'c:posts', args)
    expect(result).toEqual([...new Set([...expected, 'c:authors'])].sort())
  })

  it('own columns of a relationship do not reach the related collection', () => {
    const virtualFree = new ReadPaths(
      {
        collections: [
          {
            slug: 'a',
            fields: [
              { name: 'r', type: 'relationship', relationTo: ['b', 'c'] },
              { name: 's', type: 'relationship', relationTo: 'b' },
            ],
          },
          { slug: 'b' },
          { slug: 'c' },
        ],
      },
      'sql',
    )
    expect(
      virtualFree.dependenciesOfCall('find', 'c:a', {
        where: { 'r.value': { equals: 1 }, 'r.relationTo': { equals: 'b' }, 's.id': { in: [1] }, s: { exists: true } },
      }),
    ).toEqual(['c:a'])
  })

  it('a virtual field linked to a relationship reads its target', () => {
    expect(deps('find', 'c:posts', { sort: 'authorName' })).toEqual(['c:authors', 'c:posts'])
  })

  it('join fields are read unless turned off, with their own where and sort resolved in the joined collection', () => {
    expect(deps('find', 'c:authors', {})).toEqual(['c:authors', 'c:notes', 'c:posts'])
    expect(deps('find', 'c:authors', { joins: false })).toEqual(['c:authors'])
    // A select that leaves a join out: the adapters do not resolve it.
    expect(deps('find', 'c:authors', { select: { name: true } })).toEqual(['c:authors'])
    expect(deps('find', 'c:authors', { select: { name: true, posts: true } })).toEqual(['c:authors', 'c:posts'])
    expect(deps('find', 'c:authors', { select: { posts: false, everything: false } })).toEqual(['c:authors'])
    expect(deps('find', 'c:authors', { select: { posts: false } })).toEqual(['c:authors', 'c:notes', 'c:posts'])
    expect(deps('find', 'c:authors', { select: { everything: false, team: { name: false } } })).toEqual(['c:authors', 'c:posts'])
    expect(deps('find', 'c:authors', { select: {} })).toEqual(['c:authors', 'c:notes', 'c:posts'])
    expect(
      deps('find', 'c:authors', { joins: { everything: false, posts: { where: { 'cover.alt': { exists: true } }, sort: '-title' } } }),
    ).toEqual(['c:authors', 'c:media', 'c:posts'])
    expect(deps('find', 'c:authors', { where: { 'team.name': { equals: 'x' } }, joins: false })).toEqual(['c:authors', 'c:teams'])
    // A where on a join field reads the joined collection.
    expect(deps('count', 'c:authors', { where: { 'posts.title': { equals: 'x' } }, joins: false })).toEqual(['c:authors', 'c:posts'])
  })

  it('version reads address fields under version.; findDistinct reads its field', () => {
    expect(deps('findVersions', 'c:authors', { where: { 'version.team.name': { equals: 'x' }, parent: { equals: 1 } } })).toEqual([
      'c:authors',
      'c:teams',
    ])
    expect(deps('findGlobalVersions', 'g:settings', { where: { 'version.featured.title': { equals: 'x' } } })).toEqual([
      'c:posts',
      'g:settings',
    ])
    expect(deps('findDistinct', 'c:authors', { field: 'team.org.name', joins: false })).toEqual(['c:authors', 'c:orgs', 'c:teams'])
  })

  it('findDistinct follows its relatedAccess (Payload 3.90+): the relationship it is keyed by, and the where beneath it', () => {
    // Payload's shape: relationship paths of the distinct field, each a `where` on the related collection's fields.
    const access = (relatedAccess: unknown) => deps('findDistinct', 'c:posts', { field: 'author.name', relatedAccess })
    expect(access({ author: { 'team.org.name': { equals: 'x' } } })).toEqual(['c:authors', 'c:orgs', 'c:posts', 'c:teams'])
    expect(access({ author: { or: [{ name: { equals: 'x' } }, { AND: [{ 'team.name': { exists: true } }] }] } })).toEqual([
      'c:authors',
      'c:posts',
      'c:teams',
    ])
    // An empty `where` or one on the related ids still joins the related rows (`c:authors`: the virtual `authorName`).
    expect(deps('findDistinct', 'c:posts', { field: 'title', relatedAccess: { 'meta.editor': {} } })).toEqual([
      'c:authors',
      'c:editors',
      'c:posts',
    ])
    expect(deps('findDistinct', 'c:posts', { field: 'title', relatedAccess: { owner: { id: { in: [1] } } } })).toEqual([
      'c:authors',
      'c:posts',
      'c:teams',
    ])
    // Other reads carry no such argument: one given to them is not theirs to follow.
    expect(deps('find', 'c:plain', { relatedAccess: { ref: {} } })).toEqual(['c:plain'])
    expect(deps('findDistinct', 'c:plain', { field: 'text', relatedAccess: { ref: {} } })).toEqual(['c:orgs', 'c:plain'])
  })

  it('unknown scopes and paths depend on the scope alone', () => {
    expect(deps('find', 'c:unknown', { where: { 'x.y': { equals: 1 } } })).toEqual(['c:unknown'])
    expect(deps('find', 'c:plain', { where: { 'nope.deeper': { equals: 1 } } })).toEqual(['c:plain'])
  })

  it('forms the adapters also accept: version. on draft reads, AND / OR in any case, __ for .', () => {
    expect(
      deps('queryDrafts', 'c:authors', { where: { 'version.team.name': { equals: 'x' } }, sort: '-version.team.org.name', joins: false }),
    ).toEqual(['c:authors', 'c:orgs', 'c:teams'])
    expect(deps('find', 'c:authors', { where: { OR: [{ 'team.name': { equals: 'x' } }], And: [] }, joins: false })).toEqual([
      'c:authors',
      'c:teams',
    ])
    expect(deps('find', 'c:authors', { where: { team__org__name: { equals: 'x' } }, joins: false })).toEqual([
      'c:authors',
      'c:orgs',
      'c:teams',
    ])
  })

  it('locale codes after localized fields', () => {
    const localized = new ReadPaths(
      {
        localization: { localeCodes: ['en', 'de'] },
        collections: [
          {
            slug: 'a',
            fields: [
              { name: 'meta', type: 'group', localized: true, fields: [{ name: 'b', type: 'relationship', relationTo: 'b' }] },
              { name: 'c', type: 'relationship', relationTo: 'c', localized: true },
            ],
          },
          { slug: 'b', fields: [{ name: 'name', type: 'text' }] },
          { slug: 'c', fields: [{ name: 'd', type: 'relationship', relationTo: 'd' }] },
          { slug: 'd', fields: [{ name: 'name', type: 'text' }] },
        ],
      },
      'sql',
    )
    expect(localized.dependenciesOfCall('find', 'c:a', { where: { 'meta.en.b.name': { equals: 'x' } } })).toEqual(['c:a', 'c:b'])
    expect(localized.dependenciesOfCall('find', 'c:a', { where: { 'c.de.d.name': { equals: 'x' } } })).toEqual(['c:a', 'c:c', 'c:d'])
    expect(localized.dependenciesOfCall('find', 'c:a', { where: { 'c.de': { equals: 1 } } })).toEqual(['c:a'])
  })

  it('default sorts: the collection’s when a call gives none, and a join’s own or its collection’s', () => {
    const sorted = new ReadPaths(
      {
        collections: [
          {
            slug: 'a',
            defaultSort: '-b.name',
            fields: [
              { name: 'b', type: 'relationship', relationTo: 'b' },
              { name: 'js', type: 'join', collection: 'j', on: 'a', defaultSort: 'k.name' },
            ],
          },
          { slug: 'b', fields: [{ name: 'name', type: 'text' }] },
          {
            slug: 'j',
            defaultSort: 'm.name',
            fields: [
              { name: 'a', type: 'relationship', relationTo: 'a' },
              { name: 'k', type: 'relationship', relationTo: 'k' },
              { name: 'm', type: 'relationship', relationTo: 'm' },
            ],
          },
          { slug: 'k', fields: [{ name: 'name', type: 'text' }] },
          { slug: 'm', fields: [{ name: 'name', type: 'text' }] },
          { slug: 'n', fields: [{ name: 'js', type: 'join', collection: 'j', on: 'a' }] },
        ],
      },
      'sql',
    )
    expect(sorted.dependenciesOfCall('find', 'c:a', { joins: false })).toEqual(['c:a', 'c:b'])
    expect(sorted.dependenciesOfCall('find', 'c:a', { sort: 'id', joins: false })).toEqual(['c:a'])
    expect(sorted.dependenciesOfCall('find', 'c:a', { sort: 'id' })).toEqual(['c:a', 'c:j', 'c:k'])
    expect(sorted.dependenciesOfCall('find', 'c:n', {})).toEqual(['c:j', 'c:m', 'c:n'])
  })

  it('a field name two blocks use with different types reaches what either reaches', () => {
    const blocky = new ReadPaths(
      {
        collections: [
          {
            slug: 'a',
            fields: [
              {
                name: 'layout',
                type: 'blocks',
                blocks: [
                  { slug: 'x', fields: [{ name: 'ref', type: 'relationship', relationTo: 'b' }] },
                  { slug: 'y', fields: [{ name: 'ref', type: 'text' }] },
                ],
              },
            ],
          },
          { slug: 'b', fields: [{ name: 'name', type: 'text' }] },
        ],
      },
      'sql',
    )
    expect(blocky.dependenciesOfCall('find', 'c:a', { where: { 'layout.ref.name': { equals: 'x' } } })).toEqual(['c:a', 'c:b'])
    const reversed = new ReadPaths(
      {
        collections: [
          {
            slug: 'a',
            fields: [
              {
                name: 'layout',
                type: 'blocks',
                blocks: [
                  { slug: 'y', fields: [{ name: 'ref', type: 'text' }] },
                  { slug: 'x', fields: [{ name: 'ref', type: 'relationship', relationTo: 'b' }] },
                ],
              },
            ],
          },
          { slug: 'b', fields: [{ name: 'name', type: 'text' }] },
        ],
      },
      'sql',
    )
    expect(reversed.dependenciesOfCall('find', 'c:a', { where: { 'layout.ref.name': { equals: 'x' } } })).toEqual(['c:a', 'c:b'])
  })
})

describe('the fields a list read starts at (list precision)', () => {
  const list = new ReadPaths(
    {
      collections: [
        {
          slug: 'items',
          fields: [
            { name: 'title', type: 'text', localized: true },
            { name: 'in', type: 'text' },
            { name: 'meta', type: 'group', fields: [{ name: 'score', type: 'number' }] },
            { type: 'row', fields: [{ name: 'rank', type: 'number' }] },
            { name: 'owner', type: 'relationship', relationTo: 'people' },
            { name: 'createdAt', type: 'date' },
          ],
        },
        { slug: 'people', fields: [{ name: 'name', type: 'text' }] },
      ],
      localization: { localeCodes: ['en', 'de'] },
    },
    'sql',
  )

  it('names the top-level field of every where and sort path, however deep or localized', () => {
    const traversal = list.traversal('find', 'c:items', {
      where: { or: [{ 'title.de': { like: 'x' } }, { AND: [{ 'meta.score': { greater_than: 1 } }] }], owner: { equals: 3 } },
      sort: '-rank',
    })
    expect(traversal).toEqual({
      scopes: ['c:items'],
      ownRowsOnly: true,
      fields: ['meta', 'owner', 'rank', 'title'],
      // What decides which documents match: a complete answer needs no stamp of the others (lists.ts).
      whereFields: ['meta', 'owner', 'title'],
      understood: true,
    })
  })

  it('a field named like an operator, at the top of a where, is a field', () => {
    expect(list.traversal('count', 'c:items', { where: { in: { equals: 'x' } } }).fields).toEqual(['in'])
  })

  it('a path through a relationship follows it; an unknown field is not understood; `id` needs no field', () => {
    expect(list.traversal('find', 'c:items', { where: { 'owner.name': { equals: 'a' } } }).ownRowsOnly).toBe(false)
    expect(list.traversal('find', 'c:items', { where: { nothing: { equals: 'a' } } }).understood).toBe(false)
    expect(list.traversal('find', 'c:items', { where: { id: { in: [1, 2] } } })).toMatchObject({ fields: [], understood: true })
  })

  it('a findDistinct of its own field with a relatedAccess reads the related rows: not its own rows only', () => {
    const traversal = list.traversal('findDistinct', 'c:items', { field: 'rank', relatedAccess: { owner: { name: { equals: 'a' } } } })
    expect(traversal).toMatchObject({ scopes: ['c:items', 'c:people'], ownRowsOnly: false })
  })
})

describe('sub-paths of a relationship, by each adapter’s rules (src/path-fields.ts)', () => {
  const shape = {
    localization: { localeCodes: ['en', 'de'] },
    collections: [
      {
        slug: 'a',
        fields: [
          { name: 'one', type: 'relationship', relationTo: 'b' },
          { name: 'many', type: 'relationship', relationTo: 'b', hasMany: true },
          { name: 'poly', type: 'relationship', relationTo: ['b', 'c'] },
          { name: 'file', type: 'upload', relationTo: 'b' },
          { name: 'local', type: 'relationship', relationTo: 'b', localized: true },
          {
            name: 'meta',
            type: 'group',
            localized: true,
            // Under a localized group it is no longer localized on its own (fieldShouldBeLocalized).
            fields: [{ name: 'inner', type: 'relationship', relationTo: 'b', localized: true }],
          },
        ],
      },
      { slug: 'b', fields: [{ name: 'value', type: 'number' }] },
      { slug: 'c', fields: [{ name: 'name', type: 'text' }] },
    ],
  }
  const on = { sql: new ReadPaths(shape, 'sql'), mongodb: new ReadPaths(shape, 'mongodb') }
  const follows = (dialect: 'sql' | 'mongodb', path: string) =>
    !on[dialect].traversal('find', 'c:a', { where: { [path]: { equals: 1 } } }).ownRowsOnly

  it.each(['one', 'many', 'file', 'poly', 'poly.value', 'poly.relationTo', 'local', 'local.de', 'meta.inner'])(
    '`%s` reads the row’s own data in both',
    (path) => {
      expect([follows('sql', path), follows('mongodb', path)]).toStrictEqual([false, false])
    },
  )

  it.each(['one.value', 'one.relationTo', 'many.value', 'many.relationTo', 'file.value', 'local.de.value', 'meta.inner.de', 'one.de'])(
    '`%s` reads the related collection in both',
    (path) => {
      expect([follows('sql', path), follows('mongodb', path)]).toStrictEqual([true, true])
    },
  )

  it.each(['one.id', 'many.id', 'file.id', 'local.de.id'])(
    '`%s`: its own column in SQL; MongoDB queries the related collection for it',
    (path) => {
      expect([follows('sql', path), follows('mongodb', path)]).toStrictEqual([false, true])
    },
  )

  it('findDistinct and sort paths take the same rules', () => {
    expect(on.sql.traversal('findDistinct', 'c:a', { field: 'one.value', sort: 'one.id' }).scopes).toEqual(['c:a', 'c:b'])
    expect(on.sql.traversal('find', 'c:a', { sort: '-one.id' }).ownRowsOnly).toBe(true)
    expect(on.mongodb.traversal('find', 'c:a', { sort: '-one.id' }).ownRowsOnly).toBe(false)
  })
})
