/**
 * A seeded random source, mulberry32: small, fast, and the same sequence for the same seed
 * everywhere, so a run (the tests' differential workload, the magazine's requests) can be
 * replayed. Numbers in [0, 1), like Math.random.
 */
export function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Index i of n with probability proportional to 1 / (i + 1): a few pages get most of the
 * traffic, as on a real site (the magazine's and the editorial site's workloads).
 */
export function zipf(rnd: () => number, n: number): number {
  let total = 0
  for (let i = 1; i <= n; i++) total += 1 / i
  let x = rnd() * total
  for (let i = 1; i <= n; i++) {
    x -= 1 / i
    if (x <= 0) return i - 1
  }
  return n - 1
}
