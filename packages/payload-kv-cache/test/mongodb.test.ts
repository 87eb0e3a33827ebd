import { describe, it } from '@jest/globals'
import { useTestEnv } from './support/env.js'
import { dependencySuite } from './suites/dependencies.js'
import { differentialSuite } from './suites/differential.js'
import { draftSuite } from './suites/drafts.js'
import { raceSuite } from './suites/race.js'
import { readSuite } from './suites/reads.js'
import { variationSuite } from './suites/variations.js'
import { writeSuite } from './suites/writes.js'

// No MongoDB server can be installed on CI machines: this file runs where MONGODB_URI
// points at one (a replica set for the transaction behaviour) and says so where it does not.
if (process.env.MONGODB_URI) {
  const env = useTestEnv('mongodb')
  readSuite(env)
  writeSuite(env)
  variationSuite(env)
  dependencySuite(env)
  draftSuite(env)
  raceSuite(env)
  differentialSuite(env)
} else {
  describe('mongodb', () => {
    it.skip('MONGODB_URI is not set: the MongoDB suite did not run', () => undefined)
  })
}
