/**
 * `pnpm demo`: the magazine on Postgres (embedded, or DATABASE_URL), without and with
 * payload-kv-cache.
 */
import { postgresAdapter } from '@payloadcms/db-postgres'
import { runDemo } from '@pkc-examples/magazine'
import { startDatabase } from './database.js'

const database = await startDatabase((line) => process.stdout.write(`${line}\n`))
const pool = { connectionString: database.connectionString, max: 10 }

runDemo({
  title: 'Payload REST on Postgres',
  wranglerConfig: new URL('../wrangler.jsonc', import.meta.url).pathname,
  adapter: ({ push }) => postgresAdapter({ pool, push }),
  stopDatabase: () => database.stop(),
})
