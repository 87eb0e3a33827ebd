import { describe, expect, it } from '@jest/globals'
import { countingRequest, currentRequest } from '../src/context.js'

/**
 * A request's KV operations are counted on Payload's `req` (context.ts). Payload copies
 * requests about: spread into new objects, and assigned back onto ones that have the count.
 */
describe("a request's KV operation count", () => {
  it('survives a request copied back onto one that already has it, and copies share the count', () => {
    const req: Record<string, unknown> = { user: null }
    const count = countingRequest(req, () => currentRequest())
    expect(count).toBeDefined()
    const copy = { ...req }
    // As restoring a version does: threw "Cannot assign to read only property" (a 500 in the admin).
    expect(() => Object.assign(req, copy)).not.toThrow()
    expect(countingRequest(copy, () => currentRequest())).toBe(count)
    expect(countingRequest(req, () => currentRequest())).toBe(count)
  })
})
