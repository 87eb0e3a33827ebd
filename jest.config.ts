import type { Config } from 'jest'

const config: Config = {
  projects: [
    {
      displayName: 'payload-kv-cache',
      rootDir: '<rootDir>/packages/payload-kv-cache',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testEnvironment: 'node',
      extensionsToTreatAsEsm: ['.ts'],
      moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
      transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.json' }] },
    },
    {
      displayName: 'example-cloudflare-d1',
      rootDir: '<rootDir>/examples/cloudflare-d1',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testEnvironment: 'node',
      extensionsToTreatAsEsm: ['.ts'],
      moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
      transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.json' }] },
    },
    {
      displayName: 'example-mongodb',
      rootDir: '<rootDir>/examples/mongodb',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testEnvironment: 'node',
      extensionsToTreatAsEsm: ['.ts'],
      moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
      transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.json' }] },
    },
  ],
  testTimeout: 120_000,
  globalSetup: '<rootDir>/jest.global-setup.mjs',
  verbose: true,
}

export default config
