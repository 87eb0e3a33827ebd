import { afterAll, beforeAll, expect, it, jest } from '@jest/globals'
import type { Pair } from './support/app.js'
import { createDatabase, startPair } from './support/app.js'
import type { KVServer } from './support/kv.js'
import { startKV } from './support/kv.js'
import { unwrapAdapter } from '../src/index.js'

let kv: KVServer
let pair: Pair

beforeAll(async () => {
  kv = await startKV()
  pair = await startPair(await createDatabase('sqlite'), kv.kv)
})

afterAll(async () => {
  await pair?.stop()
  await kv?.dispose()
})

it('serves a second find from KV', async () => {
  const author = await pair.cached.create({ collection: 'authors', data: { name: 'Ada' } })
  const spy = jest.spyOn(unwrapAdapter(pair.cached.db), 'find')
  const first = await pair.cached.find({ collection: 'authors' })
  await pair.cache.settled()
  const second = await pair.cached.find({ collection: 'authors' })
  expect(spy).toHaveBeenCalledTimes(1)
  expect(second).toStrictEqual(first)
  expect(second.docs[0]!.id).toBe(author.id)
  console.log(pair.cache.stats())
})
