/**
 * Creates the tables in the local D1 that `wrangler dev` uses, from Node: drizzle-kit's
 * schema push cannot run inside the Worker. Run once, and again after changing the config.
 */
import { sqliteD1Adapter } from '@payloadcms/db-d1-sqlite'
import { siteConfig } from '@pkc-examples/magazine/config'
import { getPayload } from 'payload'
import { getPlatformProxy } from 'wrangler'

const persistTo = process.env.D1_PERSIST ?? '.wrangler/state/v3'
const platform = await getPlatformProxy<{ D1: Parameters<typeof sqliteD1Adapter>[0]['binding'] }>({ persist: { path: persistTo } })
try {
  const payload = await getPayload({ config: siteConfig(sqliteD1Adapter({ binding: platform.env.D1 })), cron: false })
  await payload.db.destroy?.()
  process.stdout.write(`schema pushed to the local D1 in ${persistTo}\n`)
} finally {
  await platform.dispose()
}
