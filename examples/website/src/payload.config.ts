import { postgresAdapter } from '@payloadcms/db-postgres'
import { withKVCache } from 'payload-kv-cache'
import { websiteConfig } from './config'
import { miniflareKV } from './kv'

// The one line a site changes: the adapter it already had, wrapped. DATABASE_URI is set by
// `pnpm website` (src/serve.ts) to the embedded Postgres it started and seeded.
export default websiteConfig(
  withKVCache(postgresAdapter({ pool: { connectionString: process.env.DATABASE_URI ?? '' } }), { kv: miniflareKV }),
)
