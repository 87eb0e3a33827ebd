import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

/**
 * The Payload this test file really loaded, as `payload <version> from <path>`. Under
 * `pnpm test:payload-latest` (scripts/test-payload-latest.sh) `payload` must come from the
 * scratch install in PKC_PAYLOAD_DIR: the module `import('payload')` gives is compared with
 * the scratch copy's entry by identity (Jest keys its module registry by file), so a resolver
 * that silently fell back to the workspace's 3.87.1 fails the run instead of passing on it.
 */
export async function payloadUnderTest(scratch: string): Promise<string> {
  const require = createRequire(join(scratch, 'package.json'))
  const entry = require.resolve('payload')
  // Payload's exports have no `./package.json`; its entry is `dist/index.js`.
  const packageJson = join(dirname(entry), '..', 'package.json')
  const loaded = (await import('payload')) as Record<string, unknown>
  const expected = (await import(pathToFileURL(entry).href)) as Record<string, unknown>
  if (loaded.getPayload !== expected.getPayload)
    throw new Error(`payload was not loaded from ${scratch}: check scripts/payload-resolver.cjs`)
  const { version } = JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }
  if (process.env.PKC_PAYLOAD_VERSION && version !== process.env.PKC_PAYLOAD_VERSION)
    throw new Error(`payload ${version} loaded, ${process.env.PKC_PAYLOAD_VERSION} expected`)
  return `payload ${version} from ${entry}`
}
