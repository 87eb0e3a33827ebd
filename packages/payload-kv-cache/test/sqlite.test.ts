import { useTestEnv } from './support/env.js'
import { readSuite } from './suites/reads.js'

const env = useTestEnv('sqlite')
readSuite(env)
