import { describe, expect, it } from '@jest/globals'
import { StampReads } from '../src/invalidation/stamp-reads.js'
import { newToken } from '../src/invalidation/stamp-tokens.js'

/**
 * The writing isolate's memory of its own stamp tokens is capped (issue 21 item 6): past the
 * cap it forgets the oldest, and a location cache may still answer a forgotten stamp with the
 * token from before this isolate's write. Reads through the real path are in the suites; this
 * is the rule itself, with a clock of our own.
 */
describe('the stamps an isolate wrote lately', () => {
  const WRITES = 1500
  let now = 1_000_000

  const writeMany = (reads: StampReads): string[] => {
    const keys: string[] = []
    for (let i = 0; i < WRITES; i++) {
      const key = `p:s:d:posts:${i}`
      reads.wrote(key, newToken(now))
      keys.push(key)
      now += 10
    }
    return keys
  }

  it('a stamp it wrote and then forgot for room is unsure while KV may still show the older token', () => {
    const reads = new StampReads('p', () => now, 'w1')
    const older = newToken(now - 5_000)
    const [first] = writeMany(reads)
    // KV answers the first stamp this isolate wrote with the token it replaced.
    expect(reads.contradictsRecentWrites([first!], new Map([[first!, older]]))).toBe(true)
    // And one it never had: no value, as a location may have cached before the write.
    expect(reads.contradictsRecentWrites([first!], new Map([[first!, null]]))).toBe(true)
    // A token written after all it forgot is another isolate's newer write: trusted.
    const newer = newToken(now + 2_000)
    expect(reads.contradictsRecentWrites([first!], new Map([[first!, newer]]))).toBe(false)
    expect(reads.footprint().recentTokens).toBeLessThanOrEqual(1000)
  })

  it('once the propagation window has passed, what it forgot is trusted again', () => {
    const reads = new StampReads('p', () => now, 'w1')
    const [first] = writeMany(reads)
    now += 61_000
    expect(reads.contradictsRecentWrites([first!], new Map([[first!, newToken(now - 70_000)]]))).toBe(false)
  })

  it('a stamp it remembers is judged by its own token, as before', () => {
    const reads = new StampReads('p', () => now, 'w1')
    const keys = writeMany(reads)
    const last = keys[keys.length - 1]!
    expect(reads.contradictsRecentWrites([last], new Map([[last, newToken(now - 50_000)]]))).toBe(true)
  })
})
