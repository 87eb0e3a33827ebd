import { describe, expect, it } from '@jest/globals'
import { canonicalize, UncacheableArgumentError } from '../src/canonical.js'
import {
  decodeBody,
  decodeEnvelope,
  encodeBody,
  encodeEnvelope,
  envelopeText,
  FORMAT_VERSION,
  UncacheableValueError,
} from '../src/codec.js'
import { argumentsDigest, byteLength, entryKey, KV_MAX_KEY_BYTES } from '../src/keys.js'

/** What KV does to a value: text in, text out. */
const viaJSON = (value: unknown): unknown => decodeBody(JSON.parse(encodeBody(value)))

const viaEnvelope = (value: unknown): unknown => {
  const entry = decodeEnvelope(encodeEnvelope('stamps', 1, 2, value))
  if (entry.status !== 'ok') throw new Error(`expected an ok envelope, got ${entry.reason}`)
  return entry.read()
}

const nullProto = (entries: Record<string, unknown>): Record<string, unknown> =>
  Object.assign(Object.create(null) as Record<string, unknown>, entries)

describe('value codec', () => {
  const cases: Array<[string, () => unknown]> = [
    ['a key whose value is undefined', () => ({ a: 1, gone: undefined, nested: { deep: undefined } })],
    ['a Date', () => ({ at: new Date(Date.UTC(2025, 4, 6, 7, 8, 9, 123)) })],
    ['NaN, Infinity, -Infinity', () => ({ nan: NaN, inf: Infinity, negInf: -Infinity })],
    ['-0 next to 0', () => ({ negZero: -0, zero: 0, list: [-0, 0] })],
    ['BigInt', () => ({ big: 12345678901234567890123n, neg: -1n, zero: 0n })],
    [
      'strings that start with U+0001 (the tag character)',
      () => ({ u: '\u0001u', d: '\u0001d123', s: '\u0001s', bare: '\u0001', later: 'a\u0001u' }),
    ],
    ['nested arrays', () => ({ grid: [[1, [2, [3, undefined, null]]], [], [[new Date(0)]]] })],
    ['a null-prototype object', () => ({ inner: nullProto({ a: 1, b: undefined }) })],
    ['a null-prototype object at the top', () => nullProto({ x: NaN })],
    ['arrays of values at the top', () => [undefined, NaN, -0, 1n, null, 'x', true]],
    ['plain scalars at the top', () => 'just text'],
    [
      'a Payload-like find result',
      () => ({
        docs: [{ id: 1, title: 'T', limit: undefined, createdAt: new Date(0), meta: { score: NaN }, rels: [] }],
        totalDocs: 1,
        limit: undefined,
        hasNextPage: false,
        nextPage: null,
      }),
    ],
  ]

  it.each(cases)('round-trips %s through JSON text', (_, make) => {
    expect(viaJSON(make())).toStrictEqual(make())
  })

  it.each(cases)('round-trips %s through an envelope', (_, make) => {
    expect(viaEnvelope(make())).toStrictEqual(make())
  })

  it('keeps -0 apart from 0 and undefined keys apart from absent ones (the checks above could fail)', () => {
    const decoded = viaJSON({ negZero: -0, gone: undefined }) as Record<string, unknown>
    expect(Object.is(decoded.negZero, -0)).toBe(true)
    expect('gone' in decoded).toBe(true)
    expect(decoded).not.toStrictEqual({ negZero: 0, gone: undefined })
    expect(decoded).not.toStrictEqual({ negZero: -0 })
  })

  it('keeps the null prototype (toStrictEqual tells it from {})', () => {
    const decoded = viaJSON(nullProto({ a: 1 })) as object
    expect(Object.getPrototypeOf(decoded)).toBeNull()
    expect(decoded).not.toStrictEqual({ a: 1 })
    // and a plain object does not come back with a null prototype
    expect(Object.getPrototypeOf(viaJSON({ a: 1 }))).toBe(Object.prototype)
  })

  it('round-trips an invalid Date as an invalid Date', () => {
    // Jest never finds two invalid dates equal, so this one is checked by hand.
    const decoded = viaJSON({ bad: new Date(NaN), good: new Date(5) }) as { bad: unknown; good: unknown }
    expect(decoded.bad).toBeInstanceOf(Date)
    expect(Number.isNaN((decoded.bad as Date).getTime())).toBe(true)
    expect(decoded.good).toStrictEqual(new Date(5))
    const viaEnv = viaEnvelope({ bad: new Date(NaN) }) as { bad: Date }
    expect(viaEnv.bad).toBeInstanceOf(Date)
    expect(Number.isNaN(viaEnv.bad.getTime())).toBe(true)
  })

  it('encodes to text JSON keeps as it is', () => {
    const body = encodeBody({ a: undefined, b: new Date(1), c: NaN, d: 1n, e: -0 })
    expect(JSON.stringify(JSON.parse(body))).toBe(body)
  })

  class WithFields {
    a = 1
    b = 'two'
  }

  const refused: Array<[string, () => unknown]> = [
    ['a Map', () => ({ m: new Map([['a', 1]]) })],
    ['a Set', () => ({ s: new Set([1]) })],
    ['a Buffer', () => ({ b: Buffer.from('abc') })],
    ['a Uint8Array', () => ({ b: new Uint8Array([1, 2]) })],
    ['an instance of a class with fields', () => ({ doc: new WithFields() })],
    ['a class instance at the top', () => new WithFields()],
    // eslint-disable-next-line no-sparse-arrays -- the hole is what this case checks
    ['a sparse array', () => ({ list: [1, , 3] })],
    ['an array made with new Array(n)', () => new Array(2)],
    ['a function', () => ({ f: () => 1 })],
    ['a method', () => ({ f() {} })],
    ['a function at the top', () => () => 1],
    ['a symbol', () => ({ s: Symbol('x') })],
    [
      'a circular object',
      () => {
        const a: Record<string, unknown> = {}
        a.self = a
        return a
      },
    ],
  ]

  it.each(refused)('refuses %s with UncacheableValueError', (_, make) => {
    expect(() => encodeBody(make())).toThrow(UncacheableValueError)
    expect(() => encodeEnvelope('s', 1, 2, make())).toThrow(UncacheableValueError)
  })

  // An own `__proto__` key (what JSON.parse makes of `{"__proto__": ...}`, e.g. in a json
  // field) must not be assigned through Object.prototype's setter and vanish.
  it('round-trips, or refuses, an own __proto__ key (JSON.parse makes them)', () => {
    const make = () => JSON.parse('{"__proto__": {"x": 1}, "a": 1}') as Record<string, unknown>
    expect(Object.keys(make())).toEqual(['__proto__', 'a'])
    let decoded: unknown
    try {
      decoded = viaJSON(make())
    } catch (error) {
      expect(error).toBeInstanceOf(UncacheableValueError)
      return
    }
    expect(Object.keys(decoded as object)).toEqual(['__proto__', 'a'])
    expect(decoded).toStrictEqual(make())
  })

  it('accepts a dense array that holds undefined (not sparse)', () => {
    expect(viaJSON([undefined, 1])).toStrictEqual([undefined, 1])
    // and the dense array does not come back sparse
    expect(0 in (viaJSON([undefined, 1]) as unknown[])).toBe(true)
  })
})

describe('envelope', () => {
  it('carries stamps, fill time and expiry', () => {
    const entry = decodeEnvelope(encodeEnvelope('a.b.', 1000, 61_000, { x: 1 }))
    expect(entry).toMatchObject({ status: 'ok', stamps: 'a.b.', filledAt: 1000, expiresAt: 61_000 })
  })

  const valid = JSON.parse(encodeEnvelope('s.', 1, 2, { x: 1 })) as Record<string, unknown>
  const without = (field: string): string => {
    const copy = { ...valid }
    delete copy[field]
    return JSON.stringify(copy)
  }

  const foreign: Array<[string, string]> = [
    ['text that is not JSON', 'garbage'],
    ['an empty string', ''],
    ['truncated JSON', encodeEnvelope('s.', 1, 2, { x: 1 }).slice(0, 20)],
    ['JSON null', 'null'],
    ['a JSON number', '42'],
    ['a JSON string', '"hello"'],
    ['a JSON array', '[1,2]'],
    ['another format version', JSON.stringify({ ...valid, v: FORMAT_VERSION + 1 })],
    ['format version 0', JSON.stringify({ ...valid, v: 0 })],
    ['format version as a string', JSON.stringify({ ...valid, v: String(FORMAT_VERSION) })],
    ['no format version', without('v')],
    ['no stamps', without('s')],
    ['no fill time', without('f')],
    ['no expiry', without('e')],
    ['no data', without('d')],
    ['data that is not a body array', JSON.stringify({ ...valid, d: { x: 1 } })],
    // What format 1 (tagged strings, before the patch list) wrote: a miss, never misread.
    ['an entry of format 1', '{"v":1,"s":"s.","f":1,"e":2,"d":{"x":"\\u0001u","at":"\\u0001d0"}}'],
    ['stamps that are not a string', JSON.stringify({ ...valid, s: 1 })],
    ['an expiry that is not a number', JSON.stringify({ ...valid, e: '2' })],
  ]

  it.each(foreign)('reads %s as foreign', (_, raw) => {
    const entry = decodeEnvelope(raw)
    expect(entry.status).toBe('foreign')
  })

  it('is ok for the untouched envelope the cases above were made from', () => {
    expect(decodeEnvelope(JSON.stringify(valid)).status).toBe('ok')
  })

  it('throws from read() when the data holds an unknown patch kind', () => {
    // kind 31 ('f'), dropping 0 ('A') and adding 1 ('B') segment: keys[0] ('B' = 2 * 0 + 1)
    const entry = decodeEnvelope(JSON.stringify({ ...valid, d: [{ x: 0 }, [['x'], 'fABB', []]] }))
    expect(entry.status).toBe('ok')
    if (entry.status !== 'ok') return
    expect(() => entry.read()).toThrow()
  })

  it('hands out a fresh object from each read()', () => {
    const value = { docs: [{ id: 1, meta: { score: 2 }, at: new Date(3) }], total: 1 }
    const entry = decodeEnvelope(encodeEnvelope('s.', 1, 2, value))
    if (entry.status !== 'ok') throw new Error('expected ok')
    const first = entry.read() as typeof value
    const second = entry.read() as typeof value
    expect(second).not.toBe(first)
    expect(second.docs).not.toBe(first.docs)
    expect(second.docs[0]!.meta).not.toBe(first.docs[0]!.meta)
    expect(second.docs[0]!.at).not.toBe(first.docs[0]!.at)
    first.docs[0]!.meta.score = -1
    first.docs[0]!.at.setTime(0)
    first.docs.push({ id: 9, meta: { score: 0 }, at: new Date(0) })
    const third = entry.read()
    expect(second).toStrictEqual(value)
    expect(third).toStrictEqual(value)
  })
})

describe('canonicalize', () => {
  it('gives the same text for the same content in a different key order', () => {
    const a = { collection: 'posts', where: { and: [{ a: { equals: 1 } }, { b: { in: [1, 2] } }] }, sort: '-x', limit: 3 }
    const b = { limit: 3, sort: '-x', where: { and: [{ a: { equals: 1 } }, { b: { in: [1, 2] } }] }, collection: 'posts' }
    const c = { where: { and: [{ a: { equals: 1 } }, { b: { in: [1, 2] } }] }, limit: 3, collection: 'posts', sort: '-x' }
    expect(canonicalize(a)).toBe(canonicalize(b))
    expect(canonicalize(a)).toBe(canonicalize(c))
    expect(canonicalize({ x: { q: 1, p: 2 } })).toBe(canonicalize({ x: { p: 2, q: 1 } }))
  })

  it('treats a top-level argument set to undefined as absent (only there)', () => {
    expect(canonicalize({ a: undefined })).toBe(canonicalize({}))
    expect(canonicalize({ x: 1, a: undefined, nested: { b: 1 } })).toBe(canonicalize({ nested: { b: 1 }, x: 1 }))
    expect(canonicalize({ nested: { b: undefined } })).not.toBe(canonicalize({ nested: {} }))
  })

  it('treats a null-prototype object like a plain one with the same content', () => {
    expect(canonicalize(nullProto({ a: 1 }))).toBe(canonicalize({ a: 1 }))
  })

  const distinct: Array<[string, unknown, unknown]> = [
    ['1 and "1"', { limit: 1 }, { limit: '1' }],
    ['-0 and 0', { v: -0 }, { v: 0 }],
    ['NaN and null', { v: NaN }, { v: null }],
    ['NaN and undefined in an array', [NaN], [undefined]],
    ['NaN and the string "NaN"', { v: NaN }, { v: 'NaN' }],
    ['Infinity and -Infinity', { v: Infinity }, { v: -Infinity }],
    ['a Date and its ISO string', { at: new Date(0) }, { at: new Date(0).toISOString() }],
    ['a Date and its time in ms', { at: new Date(5) }, { at: 5 }],
    ['two different Dates', { at: new Date(5) }, { at: new Date(6) }],
    ['arrays in a different order', { in: [1, 2] }, { in: [2, 1] }],
    ['[] and {}', { v: [] }, { v: {} }],
    ['true and "true"', { v: true }, { v: 'true' }],
    ['null and "null"', { v: null }, { v: 'null' }],
    ['null and absent', { v: null }, {}],
    ['a BigInt and a number', { v: 1n }, { v: 1 }],
    ['a BigInt and a string', { v: 1n }, { v: '1' }],
    ['nesting that a naive join would merge', { a: 'b,c:d' }, { a: 'b', c: 'd' }],
    ['a key that looks like a path', { 'a.b': 1 }, { a: { b: 1 } }],
    ['undefined in an array and an empty array', [undefined], []],
  ]

  it.each(distinct)('tells apart %s', (_, a, b) => {
    expect(canonicalize(a)).not.toBe(canonicalize(b))
  })

  // String() of a Buffer is a lossy UTF-8 decoding: different bytes must still differ.
  it('tells apart two Buffers with different bytes', () => {
    expect(canonicalize({ where: { hash: { equals: Buffer.from([0xff]) } } })).not.toBe(
      canonicalize({ where: { hash: { equals: Buffer.from([0xfe]) } } }),
    )
  })

  it('tells apart two Buffers that are valid UTF-8 (passes today)', () => {
    expect(canonicalize({ v: Buffer.from('a') })).not.toBe(canonicalize({ v: Buffer.from('b') }))
  })

  it('gives equal Dates the same text', () => {
    expect(canonicalize({ at: new Date(7) })).toBe(canonicalize({ at: new Date(7) }))
  })

  it('throws UncacheableArgumentError on circular input', () => {
    const a: Record<string, unknown> = { x: 1 }
    a.self = a
    expect(() => canonicalize(a)).toThrow(UncacheableArgumentError)
    const list: unknown[] = []
    list.push({ list })
    expect(() => canonicalize({ list })).toThrow(UncacheableArgumentError)
  })

  it('accepts the same object twice when it is not circular', () => {
    const shared = { equals: 1 }
    expect(canonicalize({ a: shared, b: shared })).toBe(canonicalize({ a: { equals: 1 }, b: { equals: 1 } }))
  })

  it('throws UncacheableArgumentError on functions and symbols', () => {
    expect(() => canonicalize(() => 1)).toThrow(UncacheableArgumentError)
    expect(() => canonicalize({ where: { a: { equals: () => 1 } } })).toThrow(UncacheableArgumentError)
    expect(() => canonicalize([function named() {}])).toThrow(UncacheableArgumentError)
    expect(() => canonicalize({ s: Symbol('x') })).toThrow(UncacheableArgumentError)
  })
})

describe('keys', () => {
  const where = { title: { equals: 'x' } }

  it('ignores req', () => {
    const plain = argumentsDigest('sqlite', 'find', { collection: 'posts', where })
    expect(
      argumentsDigest('sqlite', 'find', { collection: 'posts', where, req: { transactionID: 1, context: { a: 1 }, user: { id: 2 } } }),
    ).toBe(plain)
    expect(argumentsDigest('sqlite', 'find', { req: { context: { other: true } }, collection: 'posts', where })).toBe(plain)
    // a req holding things canonicalize refuses does not matter either
    const circular: Record<string, unknown> = {}
    circular.self = circular
    expect(argumentsDigest('sqlite', 'find', { collection: 'posts', where, req: { payload: circular, fn: () => 1 } })).toBe(plain)
  })

  it('depends on every other argument', () => {
    const plain = argumentsDigest('sqlite', 'find', { collection: 'posts', where })
    expect(argumentsDigest('sqlite', 'find', { collection: 'posts', where, locale: 'de' })).not.toBe(plain)
    expect(argumentsDigest('sqlite', 'find', { collection: 'notes', where })).not.toBe(plain)
    expect(argumentsDigest('sqlite', 'find', { collection: 'posts', where: { title: { equals: 'y' } } })).not.toBe(plain)
  })

  it('includes the adapter name and the operation', () => {
    const args = { collection: 'posts', where }
    const base = argumentsDigest('sqlite', 'find', args)
    expect(argumentsDigest('postgres', 'find', args)).not.toBe(base)
    expect(argumentsDigest('sqlite', 'count', args)).not.toBe(base)
    expect(argumentsDigest('sqlite', 'queryDrafts', args)).not.toBe(base)
  })

  it('is stable and URL-safe', () => {
    const d = argumentsDigest('sqlite', 'find', { collection: 'posts', where })
    expect(argumentsDigest('sqlite', 'find', { where, collection: 'posts' })).toBe(d)
    expect(d).toMatch(/^[A-Za-z0-9_-]+$/)
  })

  it('builds `${prefix}:${scope}:${operation}:${digest}`', () => {
    expect(entryKey('pkc', 'c:posts', 'find', 'abc')).toBe('pkc:c:posts:find:abc')
    expect(entryKey('site', 'g:settings', 'findGlobal', 'xyz')).toBe('site:g:settings:findGlobal:xyz')
  })

  it('keeps the key under 512 bytes for a huge where', () => {
    const huge = {
      or: Array.from({ length: 5000 }, (_, i) => ({ [`field_${i}`]: { equals: `value ${'é'.repeat(20)} ${i}` } })),
    }
    expect(canonicalize(huge).length).toBeGreaterThan(100_000)
    const d = argumentsDigest('sqlite', 'find', { collection: 'posts', where: huge })
    const key = entryKey('a-64-character-prefix-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'c:posts', 'findGlobalVersions', d)
    expect(byteLength(key)).toBeLessThan(KV_MAX_KEY_BYTES)
    // and two huge wheres that differ in one value get different keys
    const other = { or: [...huge.or.slice(0, -1), { field_4999: { equals: 'changed' } }] }
    expect(argumentsDigest('sqlite', 'find', { collection: 'posts', where: other })).not.toBe(d)
  })
})

describe('canonicalize: review regressions', () => {
  it('keeps a nested undefined apart from an absent key: { equals: undefined } matches nothing, {} matches all', () => {
    expect(canonicalize({ where: { slug: { equals: undefined } } })).not.toBe(canonicalize({ where: { slug: {} } }))
    expect(canonicalize({ where: undefined, limit: 1 })).toBe(canonicalize({ limit: 1 }))
  })

  it('refuses class instances whose text is not their identity (Map, Set, custom classes)', () => {
    class Box {
      constructor(readonly v: number) {}
    }
    for (const value of [new Map([[1, 2]]), new Set([1]), new Box(1)]) {
      expect(() => canonicalize({ where: { x: { equals: value } } })).toThrow(UncacheableArgumentError)
    }
  })

  it('keys an ObjectId-like value by its hex string', () => {
    class ObjectId {
      constructor(readonly hex: string) {}
      toHexString() {
        return this.hex
      }
    }
    expect(canonicalize({ id: new ObjectId('aa') })).not.toBe(canonicalize({ id: new ObjectId('bb') }))
    expect(canonicalize({ id: new ObjectId('aa') })).toBe(canonicalize({ id: new ObjectId('aa') }))
  })
})

describe('envelopeText', () => {
  it('is the text JSON.stringify gives for the envelope, so one body can be wrapped under several stamps', () => {
    const value = { a: [1, 'x', null], d: new Date(0), u: undefined, n: -0 }
    const stamps = 'a.b.|c.d.|["1",2]'
    expect(envelopeText(stamps, 1000, 61_000, encodeBody(value))).toBe(
      JSON.stringify({ v: FORMAT_VERSION, s: stamps, f: 1000, e: 61_000, d: JSON.parse(encodeBody(value)) as unknown }),
    )
    const entry = decodeEnvelope(envelopeText(stamps, 1000, 61_000, encodeBody(value)))
    expect(entry.status === 'ok' && entry.stamps).toBe(stamps)
    expect(entry.status === 'ok' && entry.read()).toStrictEqual(value)
  })
})
