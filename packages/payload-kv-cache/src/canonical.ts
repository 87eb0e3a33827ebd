/**
 * Canonical text of a call's arguments: two argument objects with the same content give
 * the same text whatever their key order, and any two that an adapter could answer
 * differently give different texts. Faster than object-hash because it builds one string
 * and hashes it once, instead of streaming every token through the hash.
 */

export class UncacheableArgumentError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UncacheableArgumentError'
  }
}

const MAX_DEPTH = 64

export function canonicalize(value: unknown): string {
  return write(value, 0, new Set())
}

function write(value: unknown, depth: number, seen: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'number':
      // NaN, Infinity and -0 are distinct inputs; String() alone folds -0 into 0.
      return Object.is(value, -0) ? '#-0' : `#${value}`
    case 'boolean':
      return value ? 'T' : 'F'
    case 'undefined':
      return 'U'
    case 'bigint':
      return `B${value}`
    case 'object':
      break
    default:
      // functions and symbols carry no data an adapter could turn into a query
      throw new UncacheableArgumentError(`argument of type ${typeof value}`)
  }
  if (value === null) return 'N'
  if (depth > MAX_DEPTH) throw new UncacheableArgumentError('arguments nested too deeply')
  if (seen.has(value)) throw new UncacheableArgumentError('circular arguments')
  seen.add(value)
  try {
    if (Array.isArray(value)) {
      let out = '['
      for (let i = 0; i < value.length; i++) {
        if (i > 0) out += ','
        out += write(value[i], depth + 1, seen)
      }
      return out + ']'
    }
    if (value instanceof Date) return `D${value.getTime()}`
    if (ArrayBuffer.isView(value)) {
      // Bytes by value: String() of a Buffer is a lossy UTF-8 decoding.
      const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
      let hex = ''
      for (const byte of bytes) hex += byte.toString(16).padStart(2, '0')
      return `X${JSON.stringify(value.constructor.name)}${hex}`
    }
    const proto = Object.getPrototypeOf(value) as object | null
    if (proto !== Object.prototype && proto !== null) {
      // Only value objects whose text is their identity; any other class (Map, Set, a class
      // with a constant toString) could make two different arguments share a key.
      const name = (value as { constructor?: { name?: string } }).constructor?.name ?? '?'
      const hex = (value as { toHexString?: unknown }).toHexString
      if (typeof hex === 'function') return `O${JSON.stringify(name)}${JSON.stringify(String(hex.call(value)))}`
      // A RegExp's and a Decimal128's text is their value.
      // eslint-disable-next-line @typescript-eslint/no-base-to-string
      if (value instanceof RegExp || name === 'Decimal128') return `O${JSON.stringify(name)}${JSON.stringify(String(value))}`
      throw new UncacheableArgumentError(`argument of class ${name}`)
    }
    const record = value as Record<string, unknown>
    const keys = Object.keys(record).sort()
    let out = '{'
    let first = true
    for (const key of keys) {
      const item = record[key]
      // Only at the top: an absent argument and one set to undefined mean the same to every
      // adapter. Deeper, `{ equals: undefined }` and `{}` do not (one matches nothing).
      if (item === undefined && depth === 0) continue
      if (!first) out += ','
      first = false
      out += JSON.stringify(key) + ':' + write(item, depth + 1, seen)
    }
    return out + '}'
  } finally {
    seen.delete(value)
  }
}
