import { postgresAdapter } from '@payloadcms/db-postgres'
import { withKVCache } from 'payload-kv-cache'
import { websiteConfig } from './config'
import { countingCalls, databaseCalls } from './database-calls'
import { miniflareKV, miniflareStamps } from './kv'

// Every call that reaches Postgres is counted, for /api/kv-cache-stats (a measuring aid, not
// part of a site's setup). DATABASE_URI is set by `pnpm website` (src/serve.ts) to the
// embedded Postgres it started and seeded.
const postgres = countingCalls(postgresAdapter({ pool: { connectionString: process.env.DATABASE_URI ?? '' } }))

// The one line a site changes: the adapter it already had, wrapped. With the Durable Object
// bound (`strongStamps`), the users Payload loads on every admin request and the document
// locks are cached too, and a logout or a lock is still seen at once everywhere (README, Not
// cached by default). PKC_WEBSITE_CACHE=off serves the same site on the plain adapter, the
// uncached side of the bench's admin section.
export default websiteConfig(
  process.env.PKC_WEBSITE_CACHE === 'off' ? postgres : withKVCache(postgres, { kv: miniflareKV, strongStamps: miniflareStamps }),
  databaseCalls,
)
