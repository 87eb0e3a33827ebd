import { beforeAll, describe, expect, it } from '@jest/globals'
import type { Payload } from 'payload'
import { unwrapAdapter } from '../../src/index.js'
import { kindOf } from '../../src/operations.js'
import type { Pair } from '../support/app.js'
import type { TestEnv } from '../support/env.js'
import type { CallLog } from '../support/spy.js'
import { readUntilHit, spyOnDatabase } from '../support/spy.js'

type Methods = Record<string, unknown>

/**
 * Adapter methods the wrapper does not know (README, Limits): a newer Payload may add a write
 * the operation table cannot name, so an unknown method is forwarded and then invalidates
 * everything; the methods the real adapter has today are all named, so none of them does.
 */
export function methodSuite(env: TestEnv): void {
  describe('adapter methods', () => {
    let pair: Pair
    let log: CallLog
    const readNotes = (p: Payload) => p.find({ collection: 'notes', sort: 'text', depth: 0 })
    const inner = (): Methods => unwrapAdapter(pair.cached.db) as unknown as Methods
    const cachedDb = (): Methods => pair.cached.db as unknown as Methods

    beforeAll(async () => {
      pair = await env.newPair()
      await pair.cached.create({ collection: 'notes', data: { text: 'first' } })
      log = spyOnDatabase(pair.cached)
    })

    it('every method of the real adapter is one the operation table names', () => {
      // Run on a newer Payload by `pnpm test:payload-latest`: a method it added shows up here.
      const adapter = inner()
      const unknown = Object.keys(adapter).filter((name) => typeof adapter[name] === 'function' && kindOf(name) === 'unknown')
      expect(unknown).toEqual([])
    })

    it('an unknown method that writes (through the adapter itself, which the wrapper never sees) is seen by the next read', async () => {
      await readUntilHit(pair, log, readNotes)
      const unknownCalls = pair.cache.stats().unknownCalls
      inner().renameNotes = async function (this: Methods, text: string) {
        const updateMany = this.updateMany as (args: Record<string, unknown>) => Promise<unknown>
        await updateMany.call(this, { collection: 'notes', where: { text: { exists: true } }, data: { text } })
        return 'renamed'
      }
      try {
        const call = cachedDb().renameNotes as (text: string) => Promise<string>
        await expect(call('renamed behind the table')).resolves.toBe('renamed')
        const after = await readNotes(pair.cached)
        expect(after.docs.map((doc) => doc.text)).toEqual(['renamed behind the table'])
        expect(after).toStrictEqual(await readNotes(pair.plain))
        expect(pair.cache.stats().unknownCalls).toBe(unknownCalls + 1)
        expect(pair.cache.breakdown().byOperation.renameNotes).toMatchObject({ unknownCalls: 1, invalidations: 1 })
      } finally {
        delete inner().renameNotes
      }
    })

    it('an unknown synchronous method keeps its synchronous result and throw, and still invalidates', async () => {
      await readUntilHit(pair, log, readNotes)
      inner().answerNow = (value: number) => value * 2
      inner().failNow = () => {
        throw new Error('refused')
      }
      try {
        expect((cachedDb().answerNow as (value: number) => number)(21)).toBe(42)
        expect(() => (cachedDb().failNow as () => void)()).toThrow('refused')
        await pair.cache.settled()
        log.reset()
        await readNotes(pair.cached)
        expect(log.reads).toEqual(['find:notes'])
      } finally {
        delete inner().answerNow
        delete inner().failNow
      }
    })

    it('the known helpers of the adapter are forwarded without invalidating anything', async () => {
      await readUntilHit(pair, log, readNotes)
      const { unknownCalls, invalidations } = pair.cache.stats()
      const db = cachedDb()
      // Drizzle's schema tool (the dev push loaded it already) and the resolver of the adapter's start-up promise (settled).
      if (typeof db.requireDrizzleKit === 'function') expect((db.requireDrizzleKit as () => unknown)()).toBeTruthy()
      if (typeof db.resolveInitializing === 'function') (db.resolveInitializing as () => void)()
      // Object.prototype's functions are no adapter methods.
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- the default format is what is tested
      expect(db.toString()).toBe('[object Object]')
      // eslint-disable-next-line no-prototype-builtins -- called through the proxy on purpose
      expect(db.hasOwnProperty('find')).toBe(true)
      await pair.cache.settled()
      log.reset()
      await readNotes(pair.cached)
      expect(log.reads).toEqual([])
      expect(pair.cache.stats()).toMatchObject({ unknownCalls, invalidations })
    })
  })
}
