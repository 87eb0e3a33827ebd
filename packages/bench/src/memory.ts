/**
 * Section 5: what this isolate holds. Heap is read after a full collection (`--expose-gc`),
 * so it is what stays alive, not garbage waiting; the engine's maps come from its
 * `footprint()`, read only where this tree's engine has one.
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
  const handle = payload.db.kvCache as unknown as { engine?: { footprint?: () => Record<string, number> } } | undefined
  return handle?.engine?.footprint?.()
}
