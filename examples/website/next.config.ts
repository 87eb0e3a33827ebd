import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { withPayload } from '@payloadcms/next/withPayload'
import type { NextConfig } from 'next'

const dirname = path.dirname(fileURLToPath(import.meta.url))
// pnpm links workspace packages and the store from the repository root: Turbopack and output
// tracing must be allowed to read files there, not only under examples/website.
const root = path.resolve(dirname, '../..')

const nextConfig: NextConfig = {
  turbopack: { root },
  outputFileTracingRoot: root,
  // The magazine's collections and the call counter (@pkc/testkit/adapters) are TypeScript
  // sources in workspace packages.
  transpilePackages: ['@pkc-examples/magazine', '@pkc/testkit'],
  // Miniflare starts workerd, a native binary: load it from node_modules at run time.
  serverExternalPackages: ['miniflare'],
  // `pnpm typecheck` and `pnpm lint` check this app with the rest of the repository; a
  // second type-check inside `next build` would only add a minute to every build.
  typescript: { ignoreBuildErrors: true },
}

export default withPayload(nextConfig, { devBundleServerPackages: false })
