import type { Payload } from 'payload'
import { unwrapAdapter } from '../../src/index.js'

/**
 * Holds the next `find` of posts after the database answered, runs `during` (a write that
 * races the read), then lets the old answer through. `restore` puts the adapter's `find` back.
 * `operation` holds another read of posts instead (`findVersions`, `queryDrafts`).
 */
export function holdNextFind(
  payload: Payload,
  during: () => Promise<void>,
  operation: 'find' | 'findVersions' | 'countVersions' | 'queryDrafts' = 'find',
): { restore: () => void; ran: () => boolean } {
  const inner = unwrapAdapter(payload.db) as unknown as Record<string, (args: unknown) => Promise<unknown>>
  // Wrapped by hand: the database spy may already have replaced the method with a jest spy.
  const original = inner[operation]!
  let ran = false
  inner[operation] = async function (this: unknown, args: unknown) {
    const result = await original.call(this, args)
    if (!ran && (args as { collection?: string }).collection === 'posts') {
      ran = true
      await during()
    }
    return result
  }
  return { restore: () => void (inner[operation] = original), ran: () => ran }
}
