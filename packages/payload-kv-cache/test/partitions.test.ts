import { describe, expect, it } from '@jest/globals'
import type { IDKind } from '../src/invalidation/documents.js'
import { Partitions } from '../src/invalidation/partitions.js'
import type { Scope } from '../src/keys.js'
import type { PathDialect } from '../src/path-fields.js'

/*
 * Value partitions (src/invalidation/partitions.ts): which `where` requires a partition value,
 * and one spelling per value on both sides, so that a list and the write that changes it
 * always name the same stamp. The suites (test/suites/lists.ts) prove it through Payload.
 */

const config = {
  collections: [
    {
      slug: 'posts',
      fields: [
        { name: 'title', type: 'text', localized: true },
        { name: 'subtitle', type: 'text' },
        { name: 'slug', type: 'text', index: true },
        { name: 'body', type: 'textarea' },
        { name: 'views', type: 'number' },
        { name: 'publishedAt', type: 'date', index: true },
        { name: 'author', type: 'relationship', relationTo: 'authors' },
        { name: 'editors', type: 'relationship', relationTo: 'authors', hasMany: true },
        { name: 'related', type: 'relationship', relationTo: ['posts', 'pages'] },
        { name: 'tags', type: 'select', hasMany: true, options: ['a', 'b'] },
        { name: 'kind', type: 'select', options: ['news', 'review'] },
        { name: 'shout', type: 'text', virtual: true },
        { type: 'row', fields: [{ name: 'section', type: 'relationship', relationTo: 'sections' }] },
        { name: '_status', type: 'select', options: ['draft', 'published'], index: true },
        { name: 'updatedAt', type: 'date', index: true },
        { name: 'createdAt', type: 'date', index: true },
      ],
    },
    { slug: 'authors', fields: [{ name: 'name', type: 'text' }] },
    { slug: 'sections', fields: [{ name: 'name', type: 'text' }] },
    { slug: 'plain', fields: [{ name: 'body', type: 'textarea' }] },
  ],
}

const posts: Scope = 'c:posts'
const kinds: Record<string, IDKind> = { 'c:authors': 'number', 'c:sections': 'generated' }
const partitions = (dialect: PathDialect = 'sql') =>
  new Partitions(config, { idKind: (scope) => kinds[scope] ?? 'number', dialect, numberIDs: true })
const UUID = '0f8fad5b-d9cb-469f-a165-70867728950e'

describe('value partitions', () => {
  it('takes an equals or a short in, at the top or in an and at any depth, never in an or', () => {
    const p = partitions()
    expect(p.choose(posts, { author: { equals: 3 } })).toStrictEqual({ field: 'author', values: ['3'] })
    expect(p.choose(posts, { and: [{ views: { gt: 1 } }, { AND: [{ author: { in: [4, 3, 4] } }] }] })).toStrictEqual({
      field: 'author',
      values: ['3', '4'],
    })
    expect(p.choose(posts, { or: [{ author: { equals: 3 } }, { views: { equals: 1 } }] })).toBeUndefined()
    expect(p.choose(posts, { and: [{ or: [{ author: { equals: 3 } }] }] })).toBeUndefined()
    expect(p.choose(posts, { author: { in: [1, 2, 3, 4, 5] } })).toBeUndefined()
    expect(p.choose(posts, { author: { in: [] } })).toBeUndefined()
    expect(p.choose(posts, { author: { not_equals: 3 } })).toBeUndefined()
    expect(p.choose(posts, undefined)).toBeUndefined()
  })

  it('prefers fewer values, then an id to a string: `_status` splits a collection in two', () => {
    const p = partitions()
    expect(p.choose(posts, { _status: { equals: 'published' }, author: { equals: 1 } })?.field).toBe('author')
    expect(p.choose(posts, { _status: { equals: 'published' }, author: { in: [1, 2] } })?.field).toBe('_status')
    expect(p.choose(posts, { kind: { equals: 'news' }, slug: { equals: 'x' } })?.field).toBe('kind')
  })

  it('only stored scalars compared exactly: not localized, hasMany, polymorphic, virtual, numbers or dates', () => {
    const p = partitions()
    for (const field of ['title', 'subtitle', 'editors', 'related', 'tags', 'shout', 'views', 'publishedAt', 'body', 'id'])
      expect(p.choose(posts, { [field]: { equals: 'x' } })).toBeUndefined()
    expect(p.choose(posts, { section: { equals: UUID } })?.field).toBe('section')
    expect(p.has('c:plain')).toBe(false)
    // Under MongoDB's collations two spellings may match one document: strings are not partitions there.
    expect(partitions('mongodb').choose(posts, { kind: { equals: 'news' } })).toBeUndefined()
    expect(partitions('mongodb').choose(posts, { author: { equals: 1 } })?.field).toBe('author')
  })

  it('spells a value the way the database holds it equal, on both sides', () => {
    const p = partitions()
    // A number id from REST's text: the same stamp as the stored number.
    expect(p.choose(posts, { author: { equals: '12' } })?.values).toStrictEqual(['12'])
    expect(p.stampsOf(posts, { author: 12 })).toStrictEqual(['c:posts#+author=12'])
    // Text SQL would cast to the same number under another spelling: no partition.
    for (const text of ['012', '12.0', ' 12', '-0', '1e3', '']) expect(p.choose(posts, { author: { equals: text } })).toBeUndefined()
    // A uuid or ObjectId only in the lower-case form the database returns.
    expect(p.choose(posts, { section: { equals: UUID.toUpperCase() } })).toBeUndefined()
    expect(partitions('mongodb').choose(posts, { section: { equals: '0123456789ABCDEF01234567' } })).toBeUndefined()
    expect(p.choose(posts, { author: { equals: null } })).toBeUndefined()
    expect(p.choose(posts, { author: { equals: { id: 1 } } })).toBeUndefined()
    // Too long, or holding `#`, no read names it and no write bumps it.
    expect(p.choose(posts, { slug: { equals: 'x'.repeat(101) } })).toBeUndefined()
    expect(p.choose(posts, { slug: { equals: 'a#b' } })).toBeUndefined()
    // 60 characters, 120 bytes: the key is measured in bytes.
    expect(p.choose(posts, { slug: { equals: 'é'.repeat(60) } })).toBeUndefined()
    expect(p.choose(posts, { slug: { equals: 'e'.repeat(60) } })?.field).toBe('slug')
    expect(p.stampsOf(posts, { slug: 'a#b', kind: 'news' })).toStrictEqual(['c:posts#+kind=news'])
  })

  it('names every partition a stored row is in, and none when a value has a shape it cannot spell', () => {
    const p = partitions()
    // No section: in no partition of it.
    expect(p.stampsOf(posts, { author: 1, kind: 'news', slug: 'hello', section: null, _status: 'draft', views: 3 })).toStrictEqual([
      'c:posts#+slug=hello',
      'c:posts#+author=1',
      'c:posts#+kind=news',
      'c:posts#+_status=draft',
    ])
    expect(p.stampsOf(posts, { author: { id: 1, name: 'Ada' } })).toBeUndefined()
    expect(p.stampsOf(posts, null)).toBeUndefined()
    expect(p.stampsOf('c:plain', { body: 'x' })).toStrictEqual([])
  })

  it('under a collation, a relationship to custom text ids is no partition: two spellings may name one document', () => {
    const texts = {
      collections: [
        { slug: 'posts', fields: [{ name: 'author', type: 'relationship', relationTo: 'people' }] },
        { slug: 'people', fields: [{ name: 'id', type: 'text' }] },
      ],
    }
    const kind = (scope: Scope): IDKind => (scope === 'c:people' ? 'text' : 'number')
    const on = (dialect: PathDialect) => new Partitions(texts, { idKind: kind, dialect, numberIDs: true })
    expect(on('sql').choose(posts, { author: { equals: 'alice' } })?.field).toBe('author')
    expect(on('mongodb').choose(posts, { author: { equals: 'ALICE' } })).toBeUndefined()
  })

  it('keys lists on partition fields and indexed fields, but not on updatedAt, which every save changes', () => {
    const p = partitions()
    for (const field of ['author', 'kind', 'slug', 'publishedAt', '_status', 'createdAt', 'section'])
      expect(p.keys(posts, field)).toBe(true)
    // A free text field nobody indexes (a subtitle) is edited often: it keys no list.
    for (const field of ['updatedAt', 'body', 'views', 'title', 'subtitle', 'shout']) expect(p.keys(posts, field)).toBe(false)
    expect(p.moves(posts, ['body', 'updatedAt'])).toBe(false)
    expect(p.moves(posts, ['body', 'publishedAt'])).toBe(true)
  })

  it('spells relationship values as each adapter compares them', () => {
    const texts = {
      collections: [
        {
          slug: 'posts',
          fields: [
            { name: 'code', type: 'relationship', relationTo: 'codes' },
            { name: 'section', type: 'relationship', relationTo: 'sections' },
          ],
        },
        { slug: 'codes', fields: [{ name: 'id', type: 'text' }] },
        { slug: 'sections', fields: [{ name: 'name', type: 'text' }] },
      ],
    }
    const kind = (scope: Scope): IDKind => (scope === 'c:codes' ? 'text' : 'generated')
    const on = (dialect: PathDialect, numberIDs = true) => new Partitions(texts, { idKind: kind, dialect, numberIDs })
    // REST's text `null` is IS NULL in both: the documents with no value, in no partition.
    expect(on('sql').choose(posts, { code: { equals: 'null' } })).toBeUndefined()
    expect(on('sql').choose(posts, { code: { in: ['null'] } })?.values).toStrictEqual(['NaN', 'null'])
    // drizzle with number ids compares an `in` of text also as the text of its parseInt.
    expect(on('sql').choose(posts, { code: { in: ['12-x', 'b'] } })?.values).toStrictEqual(['12', '12-x', 'NaN', 'b'])
    expect(on('sql').choose(posts, { code: { equals: '12-x' } })?.values).toStrictEqual(['12-x'])
    expect(on('sql', false).choose(posts, { code: { in: ['12-x'] } })?.values).toStrictEqual(['12-x'])
    // A generated id: a uuid uuid.validate accepts in SQL, an ObjectId in MongoDB.
    const objectID = '507f1f77bcf86cd799439011'
    for (const text of [objectID, '11111111-1111-1111-1111-111111111111'])
      expect(on('sql').choose(posts, { section: { equals: text } })).toBeUndefined()
    expect(on('sql').choose(posts, { section: { equals: UUID } })?.values).toStrictEqual([UUID])
    expect(on('mongodb').choose(posts, { section: { equals: UUID } })).toBeUndefined()
    expect(on('mongodb').choose(posts, { section: { in: [objectID] } })?.values).toStrictEqual([objectID])
    // A stored value of another shape than the adapter compares: every partitioned list is bumped.
    expect(on('mongodb').stampsOf(posts, { section: UUID })).toBeUndefined()
  })
})
