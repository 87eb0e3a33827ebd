/**
 * Pushes the bench D1's schema and prints where it is. For the workerd test: wrangler's
 * `getPlatformProxy` fails inside Jest's module sandbox (its missing-.dev.vars check), so
 * the test runs this as a process of its own, as the D1 example's test runs its schema step.
 */
import { schemaD1 } from './d1.js'

process.stdout.write(`${await schemaD1()}\n`)
process.exit(0)
