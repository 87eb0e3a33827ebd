import { describe } from '@jest/globals'
import type { TestEnv } from '../support/env.js'
import { withStrategy } from '../support/env.js'
import { dependencySuite } from './dependencies.js'
import { differentialSuite } from './differential.js'
import { draftSuite } from './drafts.js'
import { listSuite } from './lists.js'
import { methodSuite } from './methods.js'
import { preferencesSuite } from './preferences.js'
import { raceSuite } from './race.js'
import { readSuite } from './reads.js'
import { replicaSuite } from './replicas.js'
import { siteLifeSuite } from './site-life.js'
import { transactionSuite } from './transactions.js'
import { variationSuite } from './variations.js'
import { versionSuite } from './versions.js'
import { writeSuite } from './writes.js'

/** The database-independent suites, run once per database file and invalidation strategy. */
export function allSuites(base: TestEnv, options: { transactions: boolean }): void {
  describe('stamp strategy', () => strategySuites(base, options))
  describe('prefix strategy', () => strategySuites(withStrategy(base, 'prefix'), options))
}

function strategySuites(env: TestEnv, options: { transactions: boolean }): void {
  readSuite(env)
  writeSuite(env)
  variationSuite(env)
  dependencySuite(env)
  // List precision is the stamp strategy's (README, Invalidation strategies).
  if (env.strategy === 'stamp') listSuite(env)
  // So is versions precision: the prefix strategy deletes every entry of the collection.
  if (env.strategy === 'stamp') versionSuite(env)
  draftSuite(env)
  methodSuite(env)
  preferencesSuite(env)
  // MongoDB without a replica set has no transactions to track.
  if (options.transactions) transactionSuite(env)
  raceSuite(env)
  // The replica window reads the time a stamp was written; the prefix strategy has none.
  if (env.kind === 'postgres' && env.strategy === 'stamp') replicaSuite(env)
  differentialSuite(env)
  // Deploys with different options on one KV: what their writes bump is the stamps' (README, Across deploys).
  if (env.strategy === 'stamp') siteLifeSuite(env)
}
