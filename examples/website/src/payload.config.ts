import { postgresAdapter } from '@payloadcms/db-postgres'
import { withKVCache } from 'payload-kv-cache'
import { websiteConfig } from './config'
import { countingCalls, databaseCalls } from './database-calls'
import { miniflareKV } from './kv'

// Every call that reaches Postgres is counted, for /api/kv-cache-stats (a measuring aid, not
// part of a site's setup). DATABASE_URI is set by `pnpm website` (src/serve.ts) to the
// embedded Postgres it started and seeded.
const postgres = countingCalls(postgresAdapter({ pool: { connectionString: process.env.DATABASE_URI ?? '' } }))

// The one line a site changes: the adapter it already had, wrapped. PKC_WEBSITE_CACHE=off
// serves the same site on the plain adapter, the uncached side of the bench's admin section.
export default websiteConfig(process.env.PKC_WEBSITE_CACHE === 'off' ? postgres : withKVCache(postgres, { kv: miniflareKV }), databaseCalls)
