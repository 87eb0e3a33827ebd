import type { Payload } from 'payload'
import { unwrapAdapter } from '../../src/index.js'

/**
 * Holds the next `find` of posts after the database answered, runs `during` (a write that
 * races the read), then lets the old answer through. `restore` puts the adapter's `find` back.
 */
export function holdNextFind(payload: Payload, during: () => Promise<void>): { restore: () => void; ran: () => boolean } {
  const inner = unwrapAdapter(payload.db) as unknown as { find: (args: unknown) => Promise<unknown> }
  // Wrapped by hand: the database spy may already have replaced `find` with a jest spy.
  const original = inner.find
  let ran = false
  inner.find = async function (this: unknown, args: unknown) {
    const result = await original.call(this, args)
    if (!ran && (args as { collection?: string }).collection === 'posts') {
      ran = true
      await during()
    }
    return result
  }
  return { restore: () => void (inner.find = original), ran: () => ran }
}
