/**
 * `pnpm website` from the repository root: the magazine as a Next.js site on Postgres with
 * payload-kv-cache, for a person to click through. `--production` builds first (`next build`,
 * a few minutes on two cores) and serves the build; the default is `next dev`.
 * PORT picks the port (default 3000); DATABASE_URL uses your Postgres instead of the embedded one.
 */
import { startWebsite } from './site'

const mode = process.argv.includes('--production') ? 'production' : 'dev'
const port = Number(process.env.PORT ?? 3000)
const site = await startWebsite({ mode, port, log: (line) => process.stdout.write(`${line}\n`) })

process.stdout.write(
  [
    '',
    `The magazine is on ${site.url} (next ${mode === 'production' ? 'start' : 'dev'}), its database reads cached in Miniflare's KV.`,
    `  admin:       ${site.url}/admin  (email ${site.admin.email}, password ${site.admin.password};`,
    `               a second editor: ${site.editor.email}, password ${site.editor.password})`,
    `  front end:   ${site.url}/  (add ?cache=off to any page to render it without the cache)`,
    `  cache stats: ${site.url}/api/kv-cache-stats`,
    'Ctrl-C stops Next and Postgres.',
    '',
  ].join('\n'),
)

let stopping = false
const shutdown = () => {
  if (stopping) return
  stopping = true
  void site.stop().then(() => process.exit(0))
}
process.on('SIGINT', shutdown)
process.on('SIGTERM', shutdown)
// Next gone on its own (a crash, a kill): stop Postgres too rather than leave it running.
void site.exited.then((code) => {
  if (stopping) return
  process.stdout.write(`next exited (${code}); stopping Postgres\n`)
  shutdown()
})
