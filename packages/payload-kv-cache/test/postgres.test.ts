import { useTestEnv } from './support/env.js'
import { allSuites } from './suites/all.js'

allSuites(useTestEnv('postgres'), { transactions: true })
