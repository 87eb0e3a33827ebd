/**
 * Section 5: what this isolate holds. Heap is read after a full collection (`--expose-gc`),
 * so it is what stays alive, not garbage waiting; the engine's maps come from
 * `payload.db.kvCache.footprint()`.
 */
import type { Payload } from 'payload'

export function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc) {
    // Twice: the first pass can leave objects that only the second finds unreachable.
    gc()
    gc()
  }
  return process.memoryUsage().heapUsed
}

export const gcAvailable = (): boolean => typeof (globalThis as { gc?: unknown }).gc === 'function'

export function footprint(payload: Payload): Record<string, number> | undefined {
  return payload.db.kvCache?.footprint()
}
