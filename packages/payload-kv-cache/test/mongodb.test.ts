import { describe, it } from '@jest/globals'
import { useTestEnv } from './support/env.js'
import { allSuites } from './suites/all.js'

// No MongoDB server can be installed on CI machines: this file runs where MONGODB_URI
// points at one (a replica set for the transaction behaviour) and says so where it does not.
if (process.env.MONGODB_URI) {
  allSuites(useTestEnv('mongodb'), { transactions: false })
} else {
  describe('mongodb', () => {
    it.skip('MONGODB_URI is not set: the MongoDB suite did not run', () => undefined)
  })
}
