/**
 * `pnpm demo`: the magazine on Postgres (embedded, or DATABASE_URL), without and with
 * payload-kv-cache.
 */
import { postgresAdapter } from '@payloadcms/db-postgres'
import { runDemo } from '@pkc-examples/magazine'
import { startPostgres } from '@pkc/testkit'

// Embedded Postgres in a temporary directory, or your own server: set DATABASE_URL.
const server = await startPostgres({ log: (line) => process.stdout.write(`${line}\n`), directoryPrefix: 'pkc-demo-pg-' })
// DATABASE_URL is used as it is; on the embedded server the demo makes a database of its own.
const pool = { connectionString: server.external ? server.url : await server.createDatabase('demo'), max: 10 }

runDemo({
  title: 'Payload REST on Postgres',
  wranglerConfig: new URL('../wrangler.jsonc', import.meta.url).pathname,
  adapter: ({ push }) => postgresAdapter({ pool, push }),
  stopDatabase: () => server.stop(),
})
