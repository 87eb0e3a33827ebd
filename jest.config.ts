import type { Config } from 'jest'

/** One project per package with tests: ts-jest in ESM mode, `.js` imports mapped to sources. */
function project(displayName: string, directory: string): NonNullable<Config['projects']>[number] {
  return {
    displayName,
    rootDir: `<rootDir>/${directory}`,
    testMatch: ['<rootDir>/test/**/*.test.ts'],
    testEnvironment: 'node',
    extensionsToTreatAsEsm: ['.ts'],
    moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
    transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.json' }] },
    // `pnpm test:payload-latest`: `payload` and `@payloadcms/*` from a scratch install of a newer Payload.
    ...(process.env.PKC_PAYLOAD_DIR ? { resolver: '<rootDir>/../../packages/payload-kv-cache/scripts/payload-resolver.cjs' } : {}),
  }
}

const config: Config = {
  projects: [
    project('payload-kv-cache', 'packages/payload-kv-cache'),
    project('example-cloudflare-d1', 'examples/cloudflare-d1'),
    project('example-mongodb', 'examples/mongodb'),
    project('bench', 'packages/bench'),
    // The website's browser test builds a Next.js app and drives Chromium, minutes on two
    // cores: `pnpm test:website` runs it (README, *A Next.js site*), `pnpm test` does not.
    ...(process.env.PKC_WEBSITE_TEST === '1' ? [project('example-website', 'examples/website')] : []),
  ],
  testTimeout: 120_000,
  // Jest's default leaves a core idle; much of a test's time is spent waiting on Postgres,
  // SQLite and workerd, so one worker per core finishes sooner (210 s against 304 s on 2 cores).
  maxWorkers: '100%',
  globalSetup: '<rootDir>/jest.global-setup.mjs',
  verbose: true,
}

export default config
