/**
 * The values JSON cannot carry, as a sparse list of patches next to plain JSON text
 * (codec.ts). Encoding walks the result once to find them and to refuse what JSON would
 * change; only the objects on the way to such a value are copied (with a placeholder in its
 * place, so that key order survives), the rest goes to `JSON.stringify` as it is. Decoding is
 * `JSON.parse` and then one assignment per patch: no walk over the whole result on a hit.
 *
 * The list is `[keys, ops, values]`:
 * - `ops`: numbers in base64 VLQ (5 bits a character, as in source maps), per patch: its
 *   kind, how many segments of the previous patch's path to drop, how many to add, then
 *   those segments, each `2 * index` in an array or `2 * k + 1` for `keys[k]` in an object.
 *   Patches come in document order, a container's own patch (null prototype) before those
 *   inside it, so consecutive paths share their start and a page of documents with the same
 *   `undefined` keys costs a few bytes a patch. JSON text would cost more than the tagged
 *   strings this list replaced (see BENCHMARKS.md section 3, entry size).
 * - `keys`: each object key named in `ops`, once.
 * - `values`: what a `Date` (its time, `null` when invalid) or a `BigInt` (its digits) needs,
 *   in patch order.
 */

export class UncacheableValueError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UncacheableValueError'
  }
}

export class MalformedEntryError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MalformedEntryError'
  }
}

/** The patch kinds; a kind's number is part of the stored format. */
const UNDEFINED = 0
const NAN = 1
const POS_INF = 2
const NEG_INF = 3
const NEG_ZERO = 4
const DATE = 5
const BIGINT = 6
/** An object created with a null prototype (toStrictEqual tells it from `{}`). */
const NULL_PROTO = 7

/** What the JSON text holds where a patch goes, when JSON would drop or refuse the value. */
const PLACEHOLDER = 0

const MAX_DEPTH = 200

const DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const DIGIT_OF = new Int8Array(128).fill(-1)
for (let i = 0; i < DIGITS.length; i++) DIGIT_OF[DIGITS.charCodeAt(i)] = i

/** Base64 VLQ of a non-negative integer: low 5 bits first, bit 6 says another digit follows. */
function vlq(n: number): string {
  let out = ''
  do {
    const low = n % 32
    n = Math.floor(n / 32)
    out += DIGITS[n > 0 ? low + 32 : low]
  } while (n > 0)
  return out
}

type Segment = string | number

/** Most of any result: strings, booleans, null and finite numbers other than -0, which JSON keeps as they are. */
function keptAsIs(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      return value - value === 0 && (value !== 0 || 1 / value > 0)
    default:
      return value === null
  }
}

function hasEnumerableKeys(object: object): boolean {
  for (const _ in object) return true
  return false
}

/** The stored patch list: `[keys, ops, values]` (see the top of this file). */
export type PatchList = [keys: string[], ops: string, values: Array<number | string | null>]

/**
 * One walk over a result: `visit` returns what `JSON.stringify` should be given in its place
 * (the value itself unless something under it had to be replaced) and collects the patches.
 */
export class PatchCollector {
  /** The path of the value being visited: its first `depth` segments. */
  private readonly path: Segment[] = []
  private previous: Segment[] = []
  private ops = ''
  private readonly keys: string[] = []
  private readonly keyIndex = new Map<string, number>()
  private readonly values: Array<number | string | null> = []
  /**
   * Whether for-in would also list keys inherited from Object.prototype (someone added an
   * enumerable one): JSON.stringify writes own keys only, so then each key is checked.
   */
  private readonly inherited = hasEnumerableKeys(Object.prototype)

  /** The patch list, or undefined when plain JSON carries the result exactly. */
  list(): PatchList | undefined {
    return this.ops === '' ? undefined : [this.keys, this.ops, this.values]
  }

  visit(value: unknown, depth: number): unknown {
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return value
      case 'number':
        // JSON writes NaN and the infinities as null and -0 as 0: they stay, their patch restores them.
        if (value - value === 0) {
          if (value === 0 && 1 / value < 0) this.add(NEG_ZERO, depth)
        } else this.add(value !== value ? NAN : value > 0 ? POS_INF : NEG_INF, depth)
        return value
      case 'undefined':
        // JSON drops the key: the placeholder keeps it, and in its place among the keys.
        this.add(UNDEFINED, depth)
        return PLACEHOLDER
      case 'bigint':
        this.add(BIGINT, depth)
        this.values.push(value.toString())
        return PLACEHOLDER
      case 'object':
        return value === null ? null : this.container(value, depth)
      default:
        throw new UncacheableValueError(`a ${typeof value} in the result`)
    }
  }

  private container(value: object, depth: number): unknown {
    if (depth > MAX_DEPTH) throw new UncacheableValueError('result nested too deeply (or circular)')
    const path = this.path
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i]
        if (keptAsIs(item)) continue
        // A hole would come back as undefined; Payload results have none, refuse rather than guess.
        if (item === undefined && !(i in value)) throw new UncacheableValueError('a sparse array in the result')
        path[depth] = i
        const written = typeof item === 'object' ? this.container(item!, depth + 1) : this.visit(item, depth + 1)
        // (NaN is the one value unequal to itself; it stays as it is.)
        if (written !== item && written === written) (copy ??= value.slice())[i] = written
      }
      return copy ?? value
    }
    const proto = Object.getPrototypeOf(value) as object | null
    if (proto !== Object.prototype) {
      // Checked before JSON.stringify could call a Date's toJSON: the time goes into the patch.
      if (value instanceof Date) {
        this.add(DATE, depth)
        const time = value.getTime()
        this.values.push(Number.isNaN(time) ? null : time)
        return PLACEHOLDER
      }
      if (proto !== null) {
        const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'unknown'
        throw new UncacheableValueError(`an instance of ${name} in the result`)
      }
      this.add(NULL_PROTO, depth)
    }
    const record = value as Record<string, unknown>
    const inherited = this.inherited
    let copy: Record<string, unknown> | undefined
    // for-in, not Object.keys: it allocates no array, which halves the walk (BENCHMARKS.md section 3).
    for (const key in record) {
      if (inherited && !Object.hasOwn(record, key)) continue
      const item = record[key]
      if (keptAsIs(item)) continue
      path[depth] = key
      const written = typeof item === 'object' ? this.container(item!, depth + 1) : this.visit(item, depth + 1)
      // The spread keeps the key order and makes an own `__proto__` key an own key of the copy,
      // so the assignment below cannot reach Object.prototype's setter.
      if (written !== item && written === written) (copy ??= { ...record })[key] = written
    }
    return copy ?? value
  }

  private add(kind: number, depth: number): void {
    const { path, previous } = this
    const limit = Math.min(depth, previous.length)
    let common = 0
    while (common < limit && path[common] === previous[common]) common++
    let ops = this.ops + DIGITS[kind]! + vlq(previous.length - common) + vlq(depth - common)
    for (let i = common; i < depth; i++) {
      const segment = path[i]!
      if (typeof segment === 'number') ops += vlq(2 * segment)
      else {
        let k = this.keyIndex.get(segment)
        if (k === undefined) {
          k = this.keys.push(segment) - 1
          this.keyIndex.set(segment, k)
        }
        ops += vlq(2 * k + 1)
      }
    }
    this.ops = ops
    this.previous = path.slice(0, depth)
  }
}

/** Reads the numbers of `ops` in turn. */
class OpsReader {
  private at = 0
  constructor(private readonly text: string) {}

  get done(): boolean {
    return this.at >= this.text.length
  }

  next(): number {
    let n = 0
    let scale = 1
    for (;;) {
      const code = this.text.charCodeAt(this.at++)
      const digit = code < 128 ? DIGIT_OF[code]! : -1
      if (digit < 0 || scale > 2 ** 48) throw new MalformedEntryError('bad patch list')
      n += (digit & 31) * scale
      if (digit < 32) return n
      scale *= 32
    }
  }
}

/**
 * Applies a stored patch list to a freshly parsed result (mutated in place) and returns it.
 * The list comes from KV, so it is checked as it is read: a path goes only through own
 * properties (never into a prototype), and anything amiss throws MalformedEntryError (or
 * the engine's own error), which the read path treats as a miss.
 */
export function applyPatches(root: unknown, list: unknown): unknown {
  if (!Array.isArray(list) || list.length !== 3) throw new MalformedEntryError('bad patch list')
  const [keys, ops, values] = list as [unknown, unknown, unknown]
  if (!Array.isArray(keys) || typeof ops !== 'string' || ops === '' || !Array.isArray(values)) {
    throw new MalformedEntryError('bad patch list')
  }
  const reader = new OpsReader(ops)
  /** The current path is `segments[0..depth)`; `nodes[i]` is the value at its first `i` segments. */
  const segments: Segment[] = []
  const nodes: unknown[] = [root]
  let depth = 0
  let nextValue = 0
  while (!reader.done) {
    const kind = reader.next()
    const drop = reader.next()
    const add = reader.next()
    depth -= drop
    if (depth < 0) throw new MalformedEntryError('bad patch path')
    for (let i = 0; i < add; i++) {
      const code = reader.next()
      const segment: unknown = code % 2 === 0 ? code / 2 : keys[(code - 1) / 2]
      const node = nodes[depth]
      if (typeof segment !== 'string' && typeof segment !== 'number') throw new MalformedEntryError('bad patch key')
      if (typeof node !== 'object' || node === null || !Object.hasOwn(node, segment)) {
        throw new MalformedEntryError('patch path not in the data')
      }
      segments[depth] = segment
      nodes[++depth] = (node as Record<Segment, unknown>)[segment]
    }
    let value: unknown
    switch (kind) {
      case UNDEFINED:
        value = undefined
        break
      case NAN:
        value = NaN
        break
      case POS_INF:
        value = Infinity
        break
      case NEG_INF:
        value = -Infinity
        break
      case NEG_ZERO:
        value = -0
        break
      case DATE: {
        const time: unknown = values[nextValue++]
        if (time !== null && typeof time !== 'number') throw new MalformedEntryError('bad Date in patch list')
        value = new Date(time ?? NaN)
        break
      }
      case BIGINT: {
        const digits: unknown = values[nextValue++]
        if (typeof digits !== 'string') throw new MalformedEntryError('bad BigInt in patch list')
        value = BigInt(digits)
        break
      }
      case NULL_PROTO: {
        const node = nodes[depth]
        if (typeof node !== 'object' || node === null || Array.isArray(node)) throw new MalformedEntryError('bad null-prototype patch')
        Object.setPrototypeOf(node, null)
        continue
      }
      default:
        throw new MalformedEntryError(`unknown patch kind ${kind}`)
    }
    if (depth === 0) root = value
    else (nodes[depth - 1] as Record<Segment, unknown>)[segments[depth - 1]!] = value
    nodes[depth] = value
  }
  return root
}
