/**
 * Strict deep comparison for audit mode: the judgement Jest's `toStrictEqual` makes (the one
 * the test suites hold the cache to), for what adapters return: JSON-ish data plus `Date`,
 * keys whose value is `undefined`, `NaN`, `-0`, `BigInt` and null-prototype objects. Returns
 * where the values differ rather than a boolean, so a mismatch can be logged usefully.
 * Plain code on purpose: it runs in workerd, where Node's `util.isDeepStrictEqual` is not.
 */

export interface Difference {
  /** Where, from the root of the result: `docs[0].title`, `(root)`. */
  path: string
  /** Short previews of the two values at that path. */
  served: string
  database: string
}

const MISSING = '(missing)'
const MAX_DEPTH = 250
const PREVIEW_CHARS = 40

/** The first `limit` paths where `served` and `database` differ; empty when they are strictly equal. */
export function differences(served: unknown, database: unknown, limit = 3): Difference[] {
  const out: Difference[] = []
  walk(served, database, '', 0, out, limit)
  return out
}

export function strictlyEqual(a: unknown, b: unknown): boolean {
  return differences(a, b, 1).length === 0
}

/** One line for a log: `docs[0].title: "Old" ≠ "New"; totalDocs: 3 ≠ 4`. */
export function summarize(list: readonly Difference[]): string {
  return list.map((d) => `${d.path}: ${d.served} (served) vs ${d.database} (database)`).join('; ')
}

function walk(a: unknown, b: unknown, path: string, depth: number, out: Difference[], limit: number): void {
  if (out.length >= limit || Object.is(a, b)) return
  const differ = () => out.push({ path: path || '(root)', served: preview(a), database: preview(b) })
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return void differ()
  // toStrictEqual tells a class instance, an array and a null-prototype object from `{}`.
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return void differ()
  if (depth > MAX_DEPTH) return void differ()
  if (a instanceof Date) {
    if (!Object.is(a.getTime(), (b as Date).getTime())) differ()
    return
  }
  if (Array.isArray(a)) {
    const other = b as unknown[]
    if (a.length !== other.length) {
      out.push({ path: `${path || '(root)'}.length`, served: String(a.length), database: String(other.length) })
      return
    }
    for (let i = 0; i < a.length && out.length < limit; i++) {
      const at = `${path}[${i}]`
      // A hole is not an undefined element for toStrictEqual.
      const inA = i in a
      if (inA !== i in other) out.push({ path: at, served: inA ? preview(a[i]) : '(hole)', database: inA ? '(hole)' : preview(other[i]) })
      else walk(a[i], other[i], at, depth + 1, out, limit)
    }
    return
  }
  const left = a as Record<PropertyKey, unknown>
  const right = b as Record<PropertyKey, unknown>
  const leftKeys = ownKeys(left)
  const rightKeys = ownKeys(right)
  for (const key of leftKeys) {
    if (out.length >= limit) return
    const at = join(path, key)
    if (!Object.prototype.propertyIsEnumerable.call(right, key)) out.push({ path: at, served: preview(left[key]), database: MISSING })
    else walk(left[key], right[key], at, depth + 1, out, limit)
  }
  for (const key of rightKeys) {
    if (out.length >= limit) return
    if (!Object.prototype.propertyIsEnumerable.call(left, key))
      out.push({ path: join(path, key), served: MISSING, database: preview(right[key]) })
  }
}

function ownKeys(value: object): PropertyKey[] {
  const keys: PropertyKey[] = Object.keys(value)
  for (const symbol of Object.getOwnPropertySymbols(value)) {
    if (Object.prototype.propertyIsEnumerable.call(value, symbol)) keys.push(symbol)
  }
  return keys
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/

function join(path: string, key: PropertyKey): string {
  if (typeof key === 'symbol') return `${path}[${String(key)}]`
  if (IDENTIFIER.test(key as string)) return path ? `${path}.${String(key)}` : String(key)
  return `${path}[${JSON.stringify(key)}]`
}

function preview(value: unknown): string {
  let text: string
  switch (typeof value) {
    case 'string':
      text = JSON.stringify(value)
      break
    case 'bigint':
      text = `${value}n`
      break
    case 'number':
      text = Object.is(value, -0) ? '-0' : String(value)
      break
    case 'object':
      if (value === null) text = 'null'
      else if (value instanceof Date) text = Number.isNaN(value.getTime()) ? 'Invalid Date' : `Date(${value.toISOString()})`
      else if (Array.isArray(value)) text = `array(${value.length})`
      else {
        const proto = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null
        text =
          proto === null
            ? 'object(null prototype)'
            : proto === Object.prototype
              ? 'object'
              : `${proto.constructor?.name ?? 'object'} instance`
      }
      break
    default:
      text = String(value)
  }
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS - 1)}…` : text
}
