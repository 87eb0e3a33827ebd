/**
 * Keys held by work in flight, counted, so that overlapping holders of one key release it
 * only when the last one is done. Holds are short-lived: the map drains as work settles.
 */
export class RefCounts<K> {
  private readonly counts = new Map<K, number>()

  /** Holds each key once; returns the release, to be called once. */
  hold(keys: Iterable<K>): () => void {
    const held = [...keys]
    for (const key of held) this.counts.set(key, (this.counts.get(key) ?? 0) + 1)
    return () => {
      for (const key of held) {
        const count = (this.counts.get(key) ?? 1) - 1
        if (count <= 0) this.counts.delete(key)
        else this.counts.set(key, count)
      }
    }
  }

  has(key: K): boolean {
    return this.counts.has(key)
  }

  get size(): number {
    return this.counts.size
  }
}
