import { useTestEnv } from './support/env.js'
import { dependencySuite } from './suites/dependencies.js'
import { differentialSuite } from './suites/differential.js'
import { draftSuite } from './suites/drafts.js'
import { raceSuite } from './suites/race.js'
import { readSuite } from './suites/reads.js'
import { transactionSuite } from './suites/transactions.js'
import { variationSuite } from './suites/variations.js'
import { writeSuite } from './suites/writes.js'

const env = useTestEnv('postgres')
readSuite(env)
writeSuite(env)
variationSuite(env)
dependencySuite(env)
draftSuite(env)
transactionSuite(env)
raceSuite(env)
differentialSuite(env)
