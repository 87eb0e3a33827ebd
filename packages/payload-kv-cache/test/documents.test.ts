import { describe, expect, it } from '@jest/globals'
import { bulkStamp, documentStamp, idOfWriteArgs, idOfWriteResult, ownerOfStamp, pinnedID } from '../src/documents.js'

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

  it('writes name their document from the arguments where they can, else from the result', () => {
    expect(idOfWriteArgs('updateOne', { id: 4 })).toBe(4)
    // The adapters use `where` over `id` when both are given.
    expect(idOfWriteArgs('updateOne', { id: 4, where: { id: { equals: 5 } } })).toBe(5)
    expect(idOfWriteArgs('updateOne', { id: 4, where: { title: { equals: 'x' } } })).toBeUndefined()
    expect(idOfWriteArgs('deleteOne', { where: { id: { equals: 'a' } } })).toBe('a')
    expect(idOfWriteArgs('create', { data: { id: 9 } })).toBeUndefined()
    expect(idOfWriteResult({ id: 9, title: 'x' })).toBe(9)
    expect(idOfWriteResult(null)).toBeUndefined()
  })

  it('stamps keep their collection, for stats', () => {
    expect(documentStamp('c:posts', 12)).toBe('c:posts#=12')
    expect(bulkStamp('c:posts')).toBe('c:posts#*')
    expect(ownerOfStamp('c:posts#=12')).toBe('c:posts')
    expect(ownerOfStamp('c:posts')).toBe('c:posts')
  })
})
