/**
 * The magazine on MongoDB, without and with payload-kv-cache. Needs a server: MONGODB_URI.
 */
import { mongooseAdapter } from '@payloadcms/db-mongodb'
import { runDemo } from '@pkc-examples/magazine'

const uri = process.env.MONGODB_URI
if (!uri) {
  process.stdout.write(
    'SKIP: MONGODB_URI is not set, so there is no MongoDB to run the demo on.\n' +
      'Start one (a local `mongod`, `docker run -p 27017:27017 mongo`, or an Atlas cluster) and run\n' +
      '  MONGODB_URI=mongodb://127.0.0.1:27017 pnpm --filter example-mongodb demo\n',
  )
  process.exit(0)
}

// Its own database on that server, dropped by nobody: the name says what it is.
const url = new URL(uri)
url.pathname = `/payload_kv_cache_demo_${Date.now().toString(36)}`

runDemo({
  title: 'Payload REST on MongoDB',
  wranglerConfig: new URL('../wrangler.jsonc', import.meta.url).pathname,
  adapter: () => mongooseAdapter({ url: url.toString() }),
})
