/**
 * The codec's patch list (src/codec-patches.ts): every value JSON cannot carry comes back
 * exactly, wherever it sits, under any key, and a patch list from KV cannot reach past the
 * data it came with.
 */
import { describe, expect, it } from '@jest/globals'
import { random } from '@pkc/testkit'
import { differences } from '../src/equality.js'
import { decodeBody, decodeEnvelope, encodeBody, encodeEnvelope, MalformedEntryError, UncacheableValueError } from '../src/codec.js'

/** What KV does to a value: text in, text out. */
const roundTrip = (value: unknown): unknown => decodeBody(JSON.parse(encodeBody(value)))

const viaEnvelope = (value: unknown): unknown => {
  const entry = decodeEnvelope(encodeEnvelope('s.', 1, 2, value))
  if (entry.status !== 'ok') throw new Error(`expected an ok envelope, got ${entry.reason}`)
  return entry.read()
}

const nullProto = (entries: Record<string, unknown>): Record<string, unknown> =>
  Object.assign(Object.create(null) as Record<string, unknown>, entries)

/** The values plain JSON loses or refuses, each made fresh (a Date is mutable). */
const SPECIAL: Array<[string, () => unknown]> = [
  ['undefined', () => undefined],
  ['NaN', () => NaN],
  ['Infinity', () => Infinity],
  ['-Infinity', () => -Infinity],
  ['-0', () => -0],
  ['a Date', () => new Date(Date.UTC(2026, 10, 30, 1, 2, 3, 456))],
  ['a Date before 1970', () => new Date(-123_456_789_012)],
  ['a Date past year 9999', () => new Date(8.64e15)],
  ['a BigInt', () => 123456789012345678901234567890n],
  ['a negative BigInt', () => -9007199254740993n],
  ['a null-prototype object', () => nullProto({ a: 1, inner: nullProto({}) })],
  ['an empty null-prototype object', () => nullProto({})],
]

type Get = (found: any) => unknown

/** Places to put a value, and where to find it again: at the top, at depth, in arrays, next to ordinary values. */
const PLACES: Array<[string, (value: unknown) => unknown, Get]> = [
  ['at the top', (v) => v, (f) => f],
  ['as a key of the top object', (v) => ({ v }), (f) => f.v],
  ['between ordinary keys', (v) => ({ a: 1, v, z: 'z' }), (f) => f.v],
  ['deep in objects', (v) => ({ a: { b: { c: { d: { v } } } } }), (f) => f.a.b.c.d.v],
  ['in an array at the top', (v) => [v], (f) => f[0]],
  ['in the middle of an array', (v) => [1, v, 'x', null], (f) => f[1]],
  ['in nested arrays', (v) => [[[], [1, [v]]]], (f) => f[0][1][1][0]],
  [
    'deep in arrays of objects',
    (v) => ({ docs: [{ id: 1 }, { id: 2, body: { children: [{ x: 1 }, { v }] } }] }),
    (f) => f.docs[1].body.children[1].v,
  ],
  ['twice in one object', (v) => ({ first: v, mid: 0, second: v }), (f) => f.second],
]

describe('special values, everywhere', () => {
  const cases = SPECIAL.flatMap(([name, make]) =>
    PLACES.map(([place, put]) => [`${name} ${place}`, () => put(make())] as [string, () => unknown]),
  )

  it.each(cases)('%s round-trips exactly', (_, make) => {
    expect(roundTrip(make())).toStrictEqual(make())
    expect(viaEnvelope(make())).toStrictEqual(make())
  })

  it('keeps -0 as -0 and undefined keys as keys wherever they sit (toStrictEqual alone would also pass on a bug)', () => {
    for (const [, put, get] of PLACES) {
      expect(Object.is(get(roundTrip(put(-0))), -0)).toBe(true)
    }
    const decoded = roundTrip({ docs: [{ a: 1, gone: undefined, z: 2 }] }) as { docs: Array<Record<string, unknown>> }
    expect(Object.keys(decoded.docs[0]!)).toEqual(['a', 'gone', 'z'])
  })

  it('keeps an invalid Date invalid, wherever it sits (Jest never finds two invalid Dates equal)', () => {
    for (const [, put, get] of PLACES) {
      const at = get(roundTrip(put(new Date(NaN))))
      expect(at).toBeInstanceOf(Date)
      expect(Number.isNaN((at as Date).getTime())).toBe(true)
    }
  })

  it('keeps the key order, an undefined key in its place among the others', () => {
    const value = { id: 1, title: 't', heroImage: undefined, at: new Date(0), big: 1n, _status: 'x', last: undefined }
    expect(Object.keys(roundTrip(value) as object)).toEqual(Object.keys(value))
    expect(Object.keys((roundTrip([value]) as object[])[0]!)).toEqual(Object.keys(value))
  })

  it('leaves strings alone that look like what the old format used for tags, or like a Date', () => {
    const value = { tag: '\u0001u', date: '\u0001d0', iso: '1970-01-01T00:00:00.000Z', num: '-0', nan: 'NaN', big: '1n' }
    expect(roundTrip(value)).toStrictEqual(value)
    expect(roundTrip(['\u0001', '\u0001s', 0])).toStrictEqual(['\u0001', '\u0001s', 0])
  })

  it('keeps a dense array that holds undefined dense, and a null in it null', () => {
    const decoded = roundTrip([undefined, null, undefined]) as unknown[]
    expect(decoded).toStrictEqual([undefined, null, undefined])
    expect(0 in decoded && 2 in decoded).toBe(true)
    expect(decoded[1]).toBeNull()
  })

  it('keeps the same object reached twice (a shared reference, not a cycle) exact at both places', () => {
    const shared = { gone: undefined, at: new Date(5), n: -0 }
    const value = { a: shared, list: [shared, { shared }] }
    const decoded = roundTrip(value) as { a: object; list: unknown[] }
    expect(decoded).toStrictEqual({
      a: { gone: undefined, at: new Date(5), n: -0 },
      list: [{ gone: undefined, at: new Date(5), n: -0 }, { shared: { gone: undefined, at: new Date(5), n: -0 } }],
    })
    expect(Object.is((decoded.list[0] as { n: number }).n, -0)).toBe(true)
  })

  it('does not change the value it encodes', () => {
    const inner = { gone: undefined, at: new Date(7), big: 2n }
    const list = [inner, NaN, undefined]
    const value = { list, inner, text: 'x' }
    encodeBody(value)
    expect(value.list).toBe(list)
    expect(value.inner).toBe(inner)
    expect(list[0]).toBe(inner)
    expect(value).toStrictEqual({ list: [{ gone: undefined, at: new Date(7), big: 2n }, NaN, undefined], text: 'x', inner })
    expect(inner.at).toBeInstanceOf(Date)
    expect('gone' in inner).toBe(true)
  })

  it('puts back what it wrote into the result when the walk refuses it halfway', () => {
    const value = { a: undefined, at: new Date(3), list: [1n], then: new Map(), z: undefined }
    expect(() => encodeBody(value)).toThrow(UncacheableValueError)
    expect(Object.keys(value)).toEqual(['a', 'at', 'list', 'then', 'z'])
    expect(value.a).toBeUndefined()
    expect(value.at).toStrictEqual(new Date(3))
    expect(value.list).toStrictEqual([1n])
  })

  it('puts back what it wrote into the result when JSON.stringify throws', () => {
    let reads = 0
    // A getter that answers the walk with a number and JSON.stringify with a BigInt.
    const value = {
      a: undefined,
      get sly() {
        return reads++ === 0 ? 1 : 1n
      },
    }
    expect(() => encodeBody(value)).toThrow()
    expect(Object.getOwnPropertyDescriptor(value, 'a')).toEqual({ value: undefined, writable: true, enumerable: true, configurable: true })
  })

  it('refuses, untouched, a read-only or accessor property holding a value JSON cannot carry (it would write there)', () => {
    const frozen = Object.freeze({ a: 1, gone: undefined })
    expect(() => encodeBody({ frozen })).toThrow(UncacheableValueError)
    expect(() => encodeBody([Object.freeze([new Date(1)])])).toThrow(UncacheableValueError)
    let sets = 0
    const accessor = {
      get at() {
        return new Date(2)
      },
      set at(_: unknown) {
        sets++
      },
    }
    expect(() => encodeBody(accessor)).toThrow(UncacheableValueError)
    expect(sets).toBe(0)
    // but a frozen object JSON carries as it is, and undefined in a frozen array (JSON writes null), are fine
    expect(roundTrip(Object.freeze({ a: 1, b: [NaN] }))).toStrictEqual({ a: 1, b: [NaN] })
    expect(roundTrip(Object.freeze([undefined, 1]))).toStrictEqual([undefined, 1])
  })

  it("tells the result's own -0 from its placeholder when an object is reached twice", () => {
    const shared = { gone: undefined, own: -0, at: new Date(1) }
    const value = [shared, shared, { again: shared, n: -0 }]
    const decoded = roundTrip(value) as Array<Record<string, unknown>>
    expect(decoded).toStrictEqual([
      { gone: undefined, own: -0, at: new Date(1) },
      { gone: undefined, own: -0, at: new Date(1) },
      { again: { gone: undefined, own: -0, at: new Date(1) }, n: -0 },
    ])
    expect(Object.is(decoded[1]!.own, -0)).toBe(true)
    expect(Object.is(decoded[2]!.n, -0)).toBe(true)
    expect('gone' in (decoded[2]!.again as object)).toBe(true)
  })

  it('walks own keys only, as JSON.stringify does, even with an enumerable key added to Object.prototype', () => {
    const proto = Object.prototype as Record<string, unknown>
    proto.addedByALibrary = function () {}
    try {
      const value = { a: 1, gone: undefined, nested: { at: new Date(1) } }
      const decoded = roundTrip(value)
      expect(Object.keys(decoded as object)).toEqual(['a', 'gone', 'nested'])
      expect(decoded).toStrictEqual(value)
    } finally {
      delete proto.addedByALibrary
    }
  })

  it('stores a result that JSON carries exactly as its plain JSON text', () => {
    const value = { docs: [{ id: 1, title: 'x', tags: ['a'], meta: null, n: 0, f: 1.5 }], totalDocs: 1 }
    expect(encodeBody(value)).toBe(`[${JSON.stringify(value)}]`)
  })
})

describe('keys that a path format must escape', () => {
  const KEYS = [
    'a.b',
    'a/b',
    '~1',
    '~0',
    'say "hi"',
    'back\\slash',
    '',
    ' ',
    '0',
    '1',
    '01',
    '-1',
    '1e3',
    '4294967295',
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'hasOwnProperty',
    'length',
    '\u0001p',
    '\u0001u',
    'ABC+/=',
    'é ü 日本',
    '\u2028',
    '😀',
  ]

  it.each(KEYS.map((key) => [JSON.stringify(key), key]))('%s holds special values at and below it', (_, key) => {
    const make = () => {
      const inner: Record<string, unknown> = {}
      Object.defineProperty(inner, key, { value: undefined, enumerable: true, writable: true, configurable: true })
      const outer: Record<string, unknown> = { before: 1 }
      Object.defineProperty(outer, key, {
        value: { deep: inner, at: new Date(1), big: 3n, list: [NaN, -0] },
        enumerable: true,
        writable: true,
        configurable: true,
      })
      const top: Record<string, unknown> = {}
      Object.defineProperty(top, key, { value: -Infinity, enumerable: true, writable: true, configurable: true })
      return { outer, top, list: [outer] }
    }
    const decoded = roundTrip(make())
    expect(differences(decoded, make())).toEqual([])
    expect(differences(viaEnvelope(make()), make())).toEqual([])
    // Jest's type check compares `.constructor`, which an own "constructor" key holding an
    // object makes differ between any two copies; the library's own check (equality.ts) does not.
    if (key !== 'constructor') {
      expect(decoded).toStrictEqual(make())
      expect(viaEnvelope(make())).toStrictEqual(make())
    }
    const outer = (decoded as { outer: Record<string, { deep: object }> }).outer
    expect(Object.keys(outer)).toEqual(Object.keys(make().outer))
    expect(Object.hasOwn(outer[key]!.deep, key)).toBe(true)
    // and nothing leaked onto Object.prototype
    expect(Object.keys(Object.prototype)).toEqual([])
    expect(({} as Record<string, unknown>).deep).toBeUndefined()
  })

  it('keeps an own __proto__ key (what JSON.parse makes of one) as a key, with special values under it', () => {
    const make = () => JSON.parse('{"a": 1, "__proto__": {"x": 1}, "z": 2}') as Record<string, unknown>
    const value = make()
    ;(value['__proto__'] as Record<string, unknown>).x = undefined
    const decoded = roundTrip(value) as Record<string, unknown>
    expect(Object.keys(decoded)).toEqual(['a', '__proto__', 'z'])
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype)
    expect(Object.hasOwn(decoded['__proto__'] as object, 'x')).toBe(true)
    expect(decoded).toStrictEqual(value)
  })

  it('keeps numeric-looking keys of an object apart from the indexes of an array', () => {
    const value = { obj: { '0': undefined, '1': NaN, '10': 1n }, arr: [undefined, NaN, 1n] }
    const decoded = roundTrip(value) as { obj: object; arr: unknown[] }
    expect(decoded).toStrictEqual(value)
    expect(Array.isArray(decoded.arr)).toBe(true)
    expect(Array.isArray(decoded.obj)).toBe(false)
  })
})

describe('toJSON', () => {
  it('detects a Date before JSON.stringify turns it into a string (a Date has a toJSON)', () => {
    const value = { at: new Date(Date.UTC(2026, 0, 2)), list: [new Date(3)] }
    const decoded = roundTrip(value) as typeof value
    expect(decoded.at).toBeInstanceOf(Date)
    expect(decoded.list[0]).toBeInstanceOf(Date)
    expect(decoded).toStrictEqual(value)
  })

  it('keeps a Date exact even when its own toJSON says something else', () => {
    const at = new Date(42)
    Object.defineProperty(at, 'toJSON', { value: () => 'not a date', enumerable: false })
    const decoded = roundTrip({ at }) as { at: Date }
    expect(decoded.at).toBeInstanceOf(Date)
    expect(decoded.at.getTime()).toBe(42)
  })

  it('refuses a plain object or a class instance with a toJSON method (JSON would store what it returns)', () => {
    class Money {
      constructor(readonly cents: number) {}
      toJSON() {
        return this.cents / 100
      }
    }
    expect(() => encodeBody({ price: new Money(150) })).toThrow(UncacheableValueError)
    expect(() => encodeBody({ price: { cents: 150, toJSON: () => 1.5 } })).toThrow(UncacheableValueError)
  })
})

describe('random values', () => {
  /** A random value of the kinds a result can hold, `depth` levels deep at most. */
  function arbitrary(next: () => number, depth: number): unknown {
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!
    const roll = next()
    if (depth > 0 && roll < 0.25) {
      const length = Math.floor(next() * 5)
      return Array.from({ length }, () => arbitrary(next, depth - 1))
    }
    if (depth > 0 && roll < 0.5) {
      const object: Record<string, unknown> = next() < 0.1 ? nullProto({}) : {}
      const size = Math.floor(next() * 6)
      for (let i = 0; i < size; i++) {
        const key = pick(['id', 'a.b', '0', '7', '__proto__', 'x/y', '"q"', '', 'children', 'ü', '\u0001', 'length'])
        Object.defineProperty(object, key, { value: arbitrary(next, depth - 1), enumerable: true, writable: true, configurable: true })
      }
      return object
    }
    const leaves: Array<() => unknown> = [
      () => undefined,
      () => null,
      () => NaN,
      () => Infinity,
      () => -Infinity,
      () => -0,
      () => 0,
      () => Math.floor(next() * 2000) - 1000,
      () => next() * 1e6,
      () => new Date(Math.floor(next() * 4e12) - 1e12),
      () => BigInt(Math.floor(next() * 1e9)) * 10n ** BigInt(Math.floor(next() * 30)),
      () => pick(['', 'x', '\u0001u', 'a"b', 'line\nbreak', '2026-01-01T00:00:00.000Z']),
      () => next() < 0.5,
    ]
    return pick(leaves)()
  }

  it('round-trips 2,000 random values exactly (seeded)', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const make = () => arbitrary(random(seed), 5)
      let decoded: unknown
      try {
        decoded = roundTrip(make())
      } catch (error) {
        throw new Error(`seed ${seed}: ${String(error)}`)
      }
      try {
        expect(decoded).toStrictEqual(make())
      } catch (error) {
        throw new Error(`seed ${seed}: ${error instanceof Error ? error.message : String(error)}`)
      }
    }
  })
})

describe('a patch list from KV', () => {
  const body = (data: unknown, patches: unknown) => JSON.stringify([data, patches])

  const malformed: Array<[string, string]> = [
    ['not a list', body({ x: 0 }, 'AABB')],
    ['a list of two', body({ x: 0 }, [['x'], 'AABB'])],
    ['ops that are not a string', body({ x: 0 }, [['x'], [0, 0, 1, 1], []])],
    ['empty ops', body({ x: 0 }, [['x'], '', []])],
    ['ops with a character outside the alphabet', body({ x: 0 }, [['x'], 'AA!B', []])],
    ['ops cut off inside a number', body({ x: 0 }, [['x'], 'AAg', []])],
    ['ops cut off inside a patch', body({ x: 0 }, [['x'], 'AAB', []])],
    ['a key index past the keys', body({ x: 0 }, [['x'], 'AABD', []])],
    ['a path through a key the data lacks', body({ x: 0 }, [['y'], 'AABB', []])],
    ['a path through an index the array lacks', body([0], [[], 'AABC', []])],
    ['a path into a number', body({ x: 0 }, [['x'], 'AACBB', []])],
    ['more segments dropped than there are', body({ x: 0 }, [['x'], 'AABBACBB', []])],
    ['a Date without its time', body({ x: 0 }, [['x'], 'FABB', []])],
    ['a Date whose time is a string', body({ x: 0 }, [['x'], 'FABB', ['0']])],
    ['a BigInt without digits', body({ x: 0 }, [['x'], 'GABB', []])],
    ['a BigInt whose digits are not', body({ x: 0 }, [['x'], 'GABB', ['12x']])],
    ['a null prototype for an array', body({ x: [] }, [['x'], 'HABB', []])],
    ['an unknown kind', body({ x: 0 }, [['x'], 'fABB', []])],
    ['a body of three', '[{"x":0},[],[]]'],
  ]

  it.each(malformed)('throws on %s', (_, text) => {
    expect(() => decodeBody(JSON.parse(text))).toThrow()
  })

  it('throws MalformedEntryError for what it checks itself', () => {
    expect(() => decodeBody(JSON.parse(body({ x: 0 }, [['y'], 'AABB', []])))).toThrow(MalformedEntryError)
  })

  it('cannot reach Object.prototype through __proto__, constructor or prototype', () => {
    const attempts = [
      body({ a: 1 }, [['__proto__', 'polluted'], 'AACBD', []]),
      body({ a: 1 }, [['constructor', 'prototype', 'polluted'], 'AADBDF', []]),
      body([], [['__proto__', 'polluted'], 'AACBD', []]),
      body({ a: 1 }, [['__proto__'], 'HABB', []]),
    ]
    for (const text of attempts) {
      expect(() => decodeBody(JSON.parse(text))).toThrow(MalformedEntryError)
    }
    expect('polluted' in Object.prototype).toBe(false)
    expect(Object.getPrototypeOf(Object.prototype)).toBeNull()
    expect(Object.getPrototypeOf({})).toBe(Object.prototype)
  })

  it('is read by the format the encoder writes (a decoded list of the documented shape)', () => {
    const [data, patches] = JSON.parse(encodeBody({ docs: [{ a: undefined }, { a: undefined, at: new Date(9) }] })) as [
      unknown,
      [string[], string, unknown[]],
    ]
    expect(data).toStrictEqual({ docs: [{ a: 0 }, { a: 0, at: 0 }] })
    // keys once each; per patch: kind, drop, add, segments (2i for an index, 2k+1 for keys[k])
    expect(patches).toStrictEqual([['docs', 'a', 'at'], 'AADBAD' + 'ACCCD' + 'FBBF', [9]])
  })
})
