/**
 * The values JSON cannot carry, as a sparse list of patches next to plain JSON text
 * (codec.ts). Encoding walks the result once to find them and to refuse what JSON would
 * change, then hands the result itself to `JSON.stringify`: where JSON would drop or refuse a
 * value (an `undefined` key, a `Date`, a `BigInt`) the walk writes a placeholder into the
 * result, so that the key stays in its place among the others, and `restore` puts the value
 * back before encodeBody returns. Decoding is `JSON.parse` and then one assignment per patch:
 * no walk over the whole result on a hit.
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

/**
 * What the JSON text holds where a patch goes, when JSON would drop or refuse the value: -0,
 * which JSON writes as `0`, and which the walk can tell from a result's own values because a
 * result's own -0 is rare enough to look up (see `originalAt`).
 */
const PLACEHOLDER = -0

const MAX_DEPTH = 200

const DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const DIGIT_OF = new Int8Array(128).fill(-1)
for (let i = 0; i < DIGITS.length; i++) DIGIT_OF[DIGITS.charCodeAt(i)] = i

const DIGIT_CODES = Array.from(DIGITS, (digit) => digit.charCodeAt(0))

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

function slotsOf(originals: Map<object, Map<Segment, unknown>>, container: object): Map<Segment, unknown> {
  let slots = originals.get(container)
  if (slots === undefined) originals.set(container, (slots = new Map<Segment, unknown>()))
  return slots
}

function hasEnumerableKeys(object: object): boolean {
  for (const _ in object) return true
  return false
}

/** The stored patch list: `[keys, ops, values]` (see the top of this file). */
export type PatchList = [keys: string[], ops: string, values: Array<number | string | null>]

/**
 * One walk over a result: collects the patches, and `visit` returns what `JSON.stringify`
 * should be given in the value's place: the value itself, or the placeholder, which the
 * container's loop writes into the result (`replace`) until `restore`.
 */
export class PatchCollector {
  /** The path of the value being visited: its first `depth` segments. */
  private readonly path: Segment[] = []
  /** The previous patch's path, its first `previousLength` segments: the next one is coded against it. */
  private readonly previous: Segment[] = []
  private previousLength = 0
  /** `ops` as character codes, made a string once at the end. */
  private readonly digits: number[] = []
  private readonly keys: string[] = []
  private readonly keyIndex = new Map<string, number>()
  private readonly values: Array<number | string | null> = []
  /**
   * Whether for-in would also list keys inherited from Object.prototype (someone added an
   * enumerable one): JSON.stringify writes own keys only, so then each key is checked.
   */
  private readonly inherited = hasEnumerableKeys(Object.prototype)
  /** The slots `replace` wrote into: container, key, original value, and again. */
  private readonly replaced: unknown[] = []
  /** The same, by container: built only once a placeholder is met again (see `originalAt`). */
  private originals: Map<object, Map<Segment, unknown>> | undefined

  /** The patch list, or undefined when plain JSON carries the result exactly. */
  list(): PatchList | undefined {
    const { digits } = this
    if (digits.length === 0) return undefined
    let ops = ''
    // In slices: a call takes only so many arguments.
    for (let i = 0; i < digits.length; i += 8192) ops += String.fromCharCode(...digits.slice(i, i + 8192))
    return [this.keys, ops, this.values]
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
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i]
        if (keptAsIs(item)) continue
        // A hole would come back as undefined; Payload results have none, refuse rather than guess.
        if (item === undefined && !(i in value)) throw new UncacheableValueError('a sparse array in the result')
        // (Past keptAsIs, a value equal to the placeholder is -0: ours, or the result's own.)
        const original = item === PLACEHOLDER ? this.originalAt(value, i) : item
        path[depth] = i
        const written = typeof original === 'object' ? this.container(original!, depth + 1) : this.visit(original, depth + 1)
        // (JSON writes undefined in an array as null: that slot stays as it is.)
        if (written === PLACEHOLDER && item !== PLACEHOLDER && item !== undefined) this.replace(value, i, item)
      }
      return value
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
    // for-in, not Object.keys: it allocates no array, which halved the walk on the bench's pages of posts.
    for (const key in record) {
      if (inherited && !Object.hasOwn(record, key)) continue
      const item = record[key]
      if (keptAsIs(item)) continue
      const original = item === PLACEHOLDER ? this.originalAt(record, key) : item
      path[depth] = key
      const written = typeof original === 'object' ? this.container(original!, depth + 1) : this.visit(original, depth + 1)
      if (written === PLACEHOLDER && item !== PLACEHOLDER) this.replace(record, key, item)
    }
    return value
  }

  /**
   * Puts the placeholder where JSON would drop or refuse `original`, in the result itself:
   * copying every object on the way down to it instead cost about a tenth of JSON.stringify's
   * time more on the bench's pages of posts. `restore` puts the original back before
   * encodeBody returns (synchronously: no other code runs meanwhile).
   */
  private replace(container: object, key: Segment, original: unknown): void {
    const property = Object.getOwnPropertyDescriptor(container, key)
    // A setter would run, a read-only property would throw. Neither is in a result from an
    // adapter (Payload's hooks assign into it); such a result is served from the database.
    if (property === undefined || !('value' in property) || !property.writable) {
      throw new UncacheableValueError('a read-only or accessor property holding a value JSON cannot carry')
    }
    this.replaced.push(container, key, original)
    if (this.originals !== undefined) slotsOf(this.originals, container).set(key, original)
    ;(container as Record<Segment, unknown>)[key] = PLACEHOLDER
  }

  /**
   * What a placeholder met in the walk stands for: the same object reached again (a shared
   * reference) already has the placeholder written in. A -0 of the result's own is itself.
   */
  private originalAt(container: object, key: Segment): unknown {
    if (this.replaced.length === 0) return PLACEHOLDER
    if (this.originals === undefined) {
      this.originals = new Map()
      const replaced = this.replaced
      for (let i = 0; i < replaced.length; i += 3)
        slotsOf(this.originals, replaced[i] as object).set(replaced[i + 1] as Segment, replaced[i + 2])
    }
    const slots = this.originals.get(container)
    return slots !== undefined && slots.has(key) ? slots.get(key) : PLACEHOLDER
  }

  /** Puts back every value `replace` took out of the result. */
  restore(): void {
    const replaced = this.replaced
    for (let i = replaced.length - 3; i >= 0; i -= 3)
      (replaced[i] as Record<Segment, unknown>)[replaced[i + 1] as Segment] = replaced[i + 2]
    replaced.length = 0
  }

  private add(kind: number, depth: number): void {
    const { path, previous } = this
    const before = this.previousLength
    const limit = Math.min(depth, before)
    let common = 0
    while (common < limit && path[common] === previous[common]) common++
    this.code(kind)
    this.code(before - common)
    this.code(depth - common)
    for (let i = common; i < depth; i++) {
      const segment = path[i]!
      previous[i] = segment
      if (typeof segment === 'number') this.code(2 * segment)
      else {
        let k = this.keyIndex.get(segment)
        if (k === undefined) {
          k = this.keys.push(segment) - 1
          this.keyIndex.set(segment, k)
        }
        this.code(2 * k + 1)
      }
    }
    this.previousLength = depth
  }

  /** Appends `n` to `ops` in base64 VLQ: low 5 bits first, bit 6 says another digit follows. */
  private code(n: number): void {
    while (n >= 32) {
      this.digits.push(DIGIT_CODES[(n % 32) + 32]!)
      n = Math.floor(n / 32)
    }
    this.digits.push(DIGIT_CODES[n]!)
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
