// @ts-check
/*
 * Jest resolver for `pnpm test:payload-latest` (README, Development): when PKC_PAYLOAD_DIR names
 * a scratch install, `payload` and the `@payloadcms/*` packages installed there are resolved
 * from it, for every file outside it (the tests, their support, the testkit); files inside it
 * resolve as usual, so the adapters and Payload load their own dependencies. Everything else
 * (Jest, Miniflare, embedded Postgres) stays the workspace's. CommonJS: Jest requires resolvers.
 */
const { existsSync, realpathSync } = require('node:fs')
const { join, sep } = require('node:path')

const scratch = process.env.PKC_PAYLOAD_DIR ? realpathSync(process.env.PKC_PAYLOAD_DIR) : undefined
const REDIRECTED = /^(payload|@payloadcms\/[^/]+)(\/.*)?$/

/** @type {(request: string, options: { basedir: string, defaultResolver: (request: string, options: object) => string }) => string} */
module.exports = (request, options) => {
  const match = scratch ? REDIRECTED.exec(request) : null
  if (scratch && match && !options.basedir.startsWith(scratch + sep) && existsSync(join(scratch, 'node_modules', match[1] ?? ''))) {
    return options.defaultResolver(request, { ...options, basedir: scratch })
  }
  return options.defaultResolver(request, options)
}
