import { useTestEnv } from './support/env.js'
import { readSuite } from './suites/reads.js'
import { writeSuite } from './suites/writes.js'

const env = useTestEnv('postgres')
readSuite(env)
writeSuite(env)
