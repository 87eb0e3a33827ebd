import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import type { KVServer } from '@pkc/testkit'
import { countingKV, startKV } from '@pkc/testkit'
import { BackgroundWork } from '../src/background.js'
import {
  bulkStamp,
  canonicalID,
  customIDKinds,
  documentStamp,
  idOfWriteArgs,
  idOfWriteResult,
  ownerOfStamp,
  pinnedID,
  pinnedIDs,
  stampKind,
  versionsBulkStamp,
  versionsStamp,
} from '../src/invalidation/documents.js'
import { planVersions } from '../src/invalidation/lists.js'
import { foldedStamp } from '../src/invalidation/stamp-tokens.js'
import type { KVNamespaceLike } from '../src/index.js'
import { DOCUMENT_STAMPS_PER_SECOND, Stamps } from '../src/invalidation/stamps.js'
import { Counters } from '../src/stats.js'
import { SafeKV } from '../src/store.js'
import { ManualClock } from './support/clock.js'

describe('document stamps: which reads and writes name one document', () => {
  it.each([
    ['id equals', { id: { equals: 7 } }, 7],
    ['a string id', { id: { equals: '65f0c0ffee' } }, '65f0c0ffee'],
    ['inside and (findByID with read access)', { and: [{ id: { equals: 7 } }, { _status: { equals: 'published' } }] }, 7],
    ['inside nested and, any case', { AND: [{ and: [{ id: { equals: 7 } }] }, { owner: { equals: 3 } }] }, 7],
    ['beside other conditions in one object', { id: { equals: 7 }, title: { like: 'a' } }, 7],
    ['the same id twice', { and: [{ id: { equals: 7 } }, { id: { equals: '7' } }] }, '7'],
  ])('%s pins the read to one id', (_, where, id) => {
    expect(pinnedID(where)).toBe(id)
  })

  it.each([
    ['no where', undefined],
    ['id in a list', { id: { in: [7] } }],
    ['id under or', { or: [{ id: { equals: 7 } }, { id: { equals: 8 } }] }],
    ['two different ids', { and: [{ id: { equals: 7 } }, { id: { equals: 8 } }] }],
    ['a relationship id', { author: { equals: 7 } }],
    ['an object id', { id: { equals: { toHexString: () => 'x' } } }],
    ['an id too long for a stamp key', { id: { equals: 'x'.repeat(201) } }],
    ['NaN', { id: { equals: Number.NaN } }],
  ])('%s does not', (_, where) => {
    expect(pinnedID(where)).toBeUndefined()
  })

  it.each([
    ['id in a list (relationship population)', { id: { in: [7, 8] } }, [7, 8]],
    ['id equals', { id: { equals: 7 } }, [7]],
    ['an empty list: nothing can match', { id: { in: [] } }, []],
    ['beside access control in and', { and: [{ id: { in: [7, 8] } }, { _status: { equals: 'published' } }] }, [7, 8]],
    ['two conditions: what both allow', { and: [{ id: { in: [7, 8, 9] } }, { AND: [{ id: { in: [8, 9, 10] } }] }] }, [8, 9]],
    ['spellings the database takes as one id, every one kept', { and: [{ id: { in: [7, 8] } }, { id: { equals: '7' } }] }, [7, '7']],
    ['in and equals in one object', { id: { in: [7, 8], equals: 8 } }, [8]],
  ])('%s pins a list to its ids', (_, where, ids) => {
    expect(pinnedIDs(where)).toStrictEqual(ids)
  })

  it.each([
    ['no where', undefined],
    ['id under or', { or: [{ id: { in: [7] } }, { title: { equals: 'x' } }] }],
    ['a comma-separated string, split by Payload’s rules', { id: { in: '7,8' } }],
    ['a null among the ids', { id: { in: [7, null] } }],
    ['an id too long for a stamp key', { id: { in: ['x'.repeat(201)] } }],
    ['not_in', { id: { not_in: [7] } }],
    ['a relationship in a list', { author: { in: [7] } }],
  ])('%s does not pin a list', (_, where) => {
    expect(pinnedIDs(where)).toBeUndefined()
  })

  it('writes name their document from the arguments where they can, else from the result', () => {
    expect(idOfWriteArgs('updateOne', { id: 4 })).toBe(4)
    // The adapters (drizzle's and MongoDB's updateOne) use `id` over `where` when both are given.
    expect(idOfWriteArgs('updateOne', { id: 4, where: { id: { equals: 5 } } })).toBe(4)
    expect(idOfWriteArgs('updateOne', { id: 4, where: { title: { equals: 'x' } } })).toBe(4)
    expect(idOfWriteArgs('updateOne', { where: { title: { equals: 'x' } } })).toBeUndefined()
    expect(idOfWriteArgs('deleteOne', { where: { id: { equals: 'a' } } })).toBe('a')
    expect(idOfWriteArgs('create', { data: { id: 9 } })).toBeUndefined()
    expect(idOfWriteResult({ id: 9, title: 'x' })).toBe(9)
    expect(idOfWriteResult(null)).toBeUndefined()
  })

  it.each([
    ['parent equals (findVersions of one document)', { parent: { equals: 7 } }, [7]],
    [
      'a draft find by id, as Payload turns id into parent',
      { and: [{ parent: { equals: 7 } }, { 'version._status': { equals: 'draft' } }] },
      [7],
    ],
    ['draft population: parent in', { parent: { in: [7, 8] } }, [7, 8]],
    ['beside other conditions in one object', { parent: { equals: 7 }, updatedAt: { less_than_equal: '2025-01-01' } }, [7]],
  ])('%s pins a versions read to its parents', (_, where, ids) => {
    expect(pinnedIDs(where, 'parent')).toStrictEqual(ids)
    expect(pinnedIDs(where)).toBeUndefined()
  })

  it.each([
    ['no parent: every version', { 'version.title': { equals: 'x' } }],
    ['a version id', { id: { equals: 7 } }],
    ['parent under or', { or: [{ parent: { equals: 7 } }, { latest: { equals: true } }] }],
    ['a null parent', { parent: { equals: null } }],
  ])('%s does not pin a versions read', (_, where) => {
    expect(pinnedIDs(where, 'parent')).toBeUndefined()
    expect(planVersions('c:posts', where, (id) => canonicalID(id, 'number'))).toBeUndefined()
  })

  it('a versions read pinned to parents depends on their versions stamps and the versions bulk stamp; a parent spelt otherwise keeps to the collection', () => {
    const number = (id: string | number) => canonicalID(id, 'number')
    expect(planVersions('c:posts', { parent: { in: [8, 7] } }, number)).toStrictEqual(['c:posts#v*', 'c:posts#v=7', 'c:posts#v=8'])
    expect(planVersions('c:posts', { parent: { equals: '7' } }, number)).toBeUndefined()
    const many = Array.from({ length: 40 }, (_, i) => i)
    expect(planVersions('c:posts', { parent: { in: many } }, number)).toBeUndefined()
  })

  it('versions stamps: their own kinds, their collection, and they fold into the versions bulk stamp', () => {
    expect(versionsStamp('c:posts', 12)).toBe('c:posts#v=12')
    expect(versionsBulkStamp('c:posts')).toBe('c:posts#v*')
    expect(stampKind(versionsStamp('c:posts', 12))).toBe('versions')
    expect(stampKind(versionsBulkStamp('c:posts'))).toBe('versionsBulk')
    // A field named `v` is a field stamp still.
    expect(stampKind('c:posts#.v')).toBe('field')
    expect(ownerOfStamp(versionsStamp('c:posts', 'a#b'))).toBe('c:posts')
    expect(foldedStamp(versionsStamp('c:posts', 12))).toBe(versionsBulkStamp('c:posts'))
    expect(foldedStamp(versionsBulkStamp('c:posts'))).toBeUndefined()
  })

  it('stamps keep their collection, for stats', () => {
    expect(documentStamp('c:posts', 12)).toBe('c:posts#=12')
    expect(bulkStamp('c:posts')).toBe('c:posts#*')
    expect(ownerOfStamp('c:posts#=12')).toBe('c:posts')
    expect(ownerOfStamp('c:posts')).toBe('c:posts')
  })
})

describe('document stamps: only an id with one spelling names a stamp', () => {
  it('number ids: numbers only (SQL casts "01" and "1" to 1)', () => {
    expect(canonicalID(7, 'number')).toBe(7)
    expect(canonicalID('7', 'number')).toBeUndefined()
    expect(canonicalID('07', 'number')).toBeUndefined()
    expect(canonicalID(Number.NaN, 'number')).toBeUndefined()
  })

  it('uuid and ObjectId ids: the lower-case form the database returns', () => {
    expect(canonicalID('0f8fad5b-d9cb-469f-a165-70867728950e', 'generated')).toBe('0f8fad5b-d9cb-469f-a165-70867728950e')
    expect(canonicalID('0F8FAD5B-D9CB-469F-A165-70867728950E', 'generated')).toBeUndefined()
    expect(canonicalID('{0f8fad5b-d9cb-469f-a165-70867728950e}', 'generated')).toBeUndefined()
    expect(canonicalID('0f8fad5bd9cb469fa16570867728950e', 'generated')).toBeUndefined()
    expect(canonicalID('507f1f77bcf86cd799439011', 'generated')).toBe('507f1f77bcf86cd799439011')
    expect(canonicalID('507F1F77BCF86CD799439011', 'generated')).toBeUndefined()
    expect(canonicalID(12, 'generated')).toBeUndefined()
  })

  it('custom text ids compare exactly, so every string is its own', () => {
    expect(canonicalID('Hello-World', 'text')).toBe('Hello-World')
    expect(canonicalID(3, 'text')).toBeUndefined()
  })

  it('a custom id field sets the kind, as Payload’s customIDType does', () => {
    const kinds = customIDKinds({
      collections: [
        { slug: 'plain', fields: [{ name: 'title', type: 'text' }] },
        { slug: 'slugs', fields: [{ name: 'id', type: 'text' }] },
        { slug: 'codes', fields: [{ name: 'id', type: 'number' }] },
      ],
    })
    expect([...kinds]).toStrictEqual([
      ['slugs', 'text'],
      ['codes', 'number'],
    ])
  })
})

describe('document stamps in a burst', () => {
  let server: KVServer
  beforeAll(async () => {
    server = await startKV()
  })
  afterAll(async () => {
    await server.dispose()
  })

  it('past DOCUMENT_STAMPS_PER_SECOND in one second, a collection’s document stamps become one bulk stamp write', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1))
    const counters = new Counters()
    const kv = countingKV(server.kv)
    const stamps = new Stamps({
      kv: new SafeKV(
        () => kv,
        1000,
        counters.totals,
        () => undefined,
      ),
      prefix: 'burst',
      clock: clock.now,
      sleep: clock.sleep,
      counters,
      background: new BackgroundWork(undefined),
      report: () => undefined,
    })
    const burst = Array.from({ length: DOCUMENT_STAMPS_PER_SECOND + 10 }, (_, i) => documentStamp('c:posts', i + 1))
    await clock.until(stamps.bump([...burst, documentStamp('c:notes', 1)]))
    const documentPuts = (collection: string) => kv.puts.filter((key) => key.includes(`:${collection}#=`)).length
    expect(documentPuts('c:posts')).toBe(DOCUMENT_STAMPS_PER_SECOND)
    expect(kv.puts.filter((key) => key.endsWith(':c:posts#*'))).toHaveLength(1)
    // Another collection keeps its own allowance.
    expect(documentPuts('c:notes')).toBe(1)
    // Reads of the documents past the allowance are covered: this isolate reads their bulk
    // stamp under a new token at once.
    expect(stamps.isUnsettled([bulkStamp('c:posts'), documentStamp('c:posts', DOCUMENT_STAMPS_PER_SECOND + 5)])).toBe(false)
    // A second later the allowance is back.
    await clock.advance(1000)
    await clock.until(stamps.bump([documentStamp('c:posts', 500)]))
    expect(documentPuts('c:posts')).toBe(DOCUMENT_STAMPS_PER_SECOND + 1)
  })
})

describe('document stamps in a long KV outage', () => {
  it('failed document stamps are folded into their collection’s bulk stamp: bounded, and reads still bypass', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1))
    const counters = new Counters()
    const failing: KVNamespaceLike = {
      get: (async () => new Map()) as unknown as KVNamespaceLike['get'],
      put: async () => {
        throw new Error('KV PUT failed: 503')
      },
      delete: async () => undefined,
      list: async () => ({ keys: [], list_complete: true }),
    }
    const kv = new SafeKV(
      () => failing,
      1000,
      counters.totals,
      () => undefined,
    )
    const stamps = new Stamps({
      kv,
      prefix: 'out',
      clock: clock.now,
      sleep: clock.sleep,
      counters,
      background: new BackgroundWork(undefined),
      report: () => undefined,
    })
    const documents = Array.from({ length: 1100 }, (_, i) => documentStamp('c:posts', i + 1))
    // Spread over time as single edits come, within the document stamps allowed per second.
    for (let i = 0; i < documents.length; i += DOCUMENT_STAMPS_PER_SECOND) {
      // Each writer tries, then retries 1, 2 and 4 s apart, then gives up.
      await clock.until(stamps.bump(documents.slice(i, i + DOCUMENT_STAMPS_PER_SECOND)))
      await clock.advance(1000)
    }
    for (let i = 0; i < 80 && counters.totals.stampFailures < documents.length; i++) await clock.advance(100)
    // Each document's own stamp, and the bulk stamp that carried the refused ones at once.
    expect(counters.totals.stampFailures).toBeGreaterThanOrEqual(documents.length)
    const { stampsFailed } = stamps.footprint()
    expect(stampsFailed).toBeLessThanOrEqual(1000)
    // A document whose own failure was folded away still bypasses, through the bulk stamp.
    expect(stamps.isUnsettled([bulkStamp('c:posts'), documentStamp('c:posts', 1)])).toBe(true)
    // Another collection is not affected.
    expect(stamps.isUnsettled(['c:notes'])).toBe(false)
  })
})
