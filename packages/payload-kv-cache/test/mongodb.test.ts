import { describe, it } from '@jest/globals'
import { useTestEnv } from './support/env.js'
import { allSuites } from './suites/all.js'

// No MongoDB server can be installed on CI machines: this file runs where MONGODB_URI
// points at one (a replica set for the transaction behaviour) and says so where it does not.
const uri = process.env.MONGODB_URI
if (uri) {
  // Transactions need a replica set (a standalone mongod refuses them, and the adapter then
  // runs without): say so in the URI (`?replicaSet=rs0`) or with MONGODB_TRANSACTIONS=1.
  allSuites(useTestEnv('mongodb'), { transactions: /[?&]replicaSet=/.test(uri) || process.env.MONGODB_TRANSACTIONS === '1' })
} else {
  describe('mongodb', () => {
    it.skip('MONGODB_URI is not set: the MongoDB suite did not run', () => undefined)
  })
}
