import type { TestEnv } from '../support/env.js'
import { dependencySuite } from './dependencies.js'
import { differentialSuite } from './differential.js'
import { draftSuite } from './drafts.js'
import { raceSuite } from './race.js'
import { readSuite } from './reads.js'
import { replicaSuite } from './replicas.js'
import { transactionSuite } from './transactions.js'
import { variationSuite } from './variations.js'
import { writeSuite } from './writes.js'

/** The database-independent suites, run once per database file. */
export function allSuites(env: TestEnv, options: { transactions: boolean }): void {
  readSuite(env)
  writeSuite(env)
  variationSuite(env)
  dependencySuite(env)
  draftSuite(env)
  // MongoDB without a replica set has no transactions to track.
  if (options.transactions) transactionSuite(env)
  raceSuite(env)
  if (env.kind === 'postgres') replicaSuite(env)
  differentialSuite(env)
}
