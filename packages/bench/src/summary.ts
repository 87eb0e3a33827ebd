/** Ratios, shares and units: how the report prints its numbers (medians and quantiles are @pkc/testkit's). */

/** `a / b` as "3.2x"; a dash when either side is missing. */
export function times(a: number, b: number, digits = 1): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '-'
  return `${(a / b).toFixed(digits)}x`
}

export function percent(part: number, whole: number, digits = 1): string {
  return whole === 0 ? '-' : `${((part / whole) * 100).toFixed(digits)} %`
}

/** Milliseconds with a precision that fits their size. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return '-'
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)
}

/** Nanoseconds or microseconds per call, whichever reads better. */
export function perCall(nanoseconds: number): string {
  if (nanoseconds >= 10_000) return `${(nanoseconds / 1000).toFixed(1)} µs`
  if (nanoseconds >= 1000) return `${(nanoseconds / 1000).toFixed(2)} µs`
  return `${nanoseconds.toFixed(0)} ns`
}

export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`
