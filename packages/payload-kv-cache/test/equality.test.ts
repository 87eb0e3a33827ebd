import { describe, expect, it } from '@jest/globals'
import { differences, strictlyEqual, summarize } from '../src/equality.js'

/** Jest's own verdict, which the audit must agree with. */
function jestSays(a: unknown, b: unknown): boolean {
  try {
    expect(a).toStrictEqual(b)
    return true
  } catch {
    return false
  }
}

const nullProto = (entries: Record<string, unknown>): Record<string, unknown> =>
  Object.assign(Object.create(null) as Record<string, unknown>, entries)
// eslint-disable-next-line no-sparse-arrays
const sparse = [1, , 3]
const withSymbol = { a: 1, [Symbol.for('pkc.test')]: 2 }

describe('strict equality for audits agrees with toStrictEqual', () => {
  const pairs: Array<[string, unknown, unknown]> = [
    [
      'equal documents',
      { docs: [{ id: 1, title: 'a', tags: ['x'] }], totalDocs: 1 },
      { docs: [{ id: 1, title: 'a', tags: ['x'] }], totalDocs: 1 },
    ],
    ['a changed string deep down', { docs: [{ id: 1, title: 'a' }] }, { docs: [{ id: 1, title: 'b' }] }],
    ['an undefined-valued key against a missing key', { a: 1, limit: undefined }, { a: 1 }],
    ['a missing key against an undefined-valued key', { a: 1 }, { a: 1, limit: undefined }],
    ['undefined-valued keys on both sides', { limit: undefined }, { limit: undefined }],
    ['NaN and NaN', { n: NaN }, { n: NaN }],
    ['NaN and a number', { n: NaN }, { n: 0 }],
    ['0 and -0', { n: 0 }, { n: -0 }],
    ['equal Dates', { d: new Date(5) }, { d: new Date(5) }],
    ['different Dates', { d: new Date(5) }, { d: new Date(6) }],
    ['a Date and its ISO string', { d: new Date(5) }, { d: new Date(5).toISOString() }],
    ['equal BigInts', { id: 10n }, { id: 10n }],
    ['a BigInt and a number', { id: 10n }, { id: 10 }],
    ['null and undefined', { a: null }, { a: undefined }],
    ['null and {}', null, {}],
    ['[] and {}', [], {}],
    ['arrays of different length', [1, 2], [1, 2, 3]],
    ['a hole and an undefined element', sparse, [1, undefined, 3]],
    ['a null-prototype object and a plain one', nullProto({ a: 1 }), { a: 1 }],
    ['two null-prototype objects', nullProto({ a: 1 }), nullProto({ a: 1 })],
    [
      'a class instance and a plain object',
      new (class Thing {
        a = 1
      })(),
      { a: 1 },
    ],
    ['same keys, another order', { a: 1, b: 2 }, { b: 2, a: 1 }],
    ['a string and a number', { v: '1' }, { v: 1 }],
    ['Infinity and -Infinity', Infinity, -Infinity],
    ['an enumerable symbol key on one side', withSymbol, { a: 1 }],
    ['true and 1', true, 1],
    ['nested arrays of objects', [[{ a: [1, { b: undefined }] }]], [[{ a: [1, { b: undefined }] }]]],
    ['nested arrays of objects, one key missing', [[{ a: [1, { b: undefined }] }]], [[{ a: [1, {}] }]]],
  ]

  it.each(pairs)('%s', (_, a, b) => {
    expect(strictlyEqual(a, b)).toBe(jestSays(a, b))
  })
})

describe('differences name where values differ', () => {
  it('gives the path and short previews of both values', () => {
    const served = { docs: [{ id: 1, title: 'Old title', meta: { score: 3 } }], totalDocs: 1 }
    const database = { docs: [{ id: 1, title: 'New title', meta: { score: 4 } }], totalDocs: 1 }
    expect(differences(served, database)).toEqual([
      { path: 'docs[0].title', served: '"Old title"', database: '"New title"' },
      { path: 'docs[0].meta.score', served: '3', database: '4' },
    ])
    expect(summarize(differences(served, database, 1))).toBe('docs[0].title: "Old title" (served) vs "New title" (database)')
  })

  it('stops at the limit, and reports missing keys and length changes', () => {
    expect(differences({ a: 1, b: 2, c: 3, d: 4 }, {}, 2)).toHaveLength(2)
    expect(differences({ a: 1 }, { a: 1, 'odd key': 2 })).toEqual([{ path: '["odd key"]', served: '(missing)', database: '2' }])
    expect(differences({ docs: [1] }, { docs: [1, 2] })).toEqual([{ path: 'docs.length', served: '1', database: '2' }])
    expect(differences(1, 2)).toEqual([{ path: '(root)', served: '1', database: '2' }])
  })

  it('cuts long values short', () => {
    const [difference] = differences({ text: 'x'.repeat(500) }, { text: 'y' })
    expect(difference!.served.length).toBeLessThanOrEqual(40)
  })
})
