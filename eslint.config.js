// @ts-check
import eslint from '@eslint/js'
import { defineConfig } from 'eslint/config'
import prettier from 'eslint-config-prettier/flat'
import tseslint from 'typescript-eslint'

export default defineConfig(
  { ignores: ['**/dist/', '**/node_modules/', '**/.wrangler/', '**/coverage/', '**/.next/', '**/next-env.d.ts'] },
  eslint.configs.recommended,
  // Type-aware: floating and misused promises, awaits of non-thenables, unsafe `any` flows.
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // Each file is checked with the tsconfig.json of its package, as `pnpm typecheck` does.
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // A `_` name is unused on purpose: a parameter an interface requires, a key dropped from a rest copy.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // Off: an `async` function with no `await` is how this code writes Promise-returning stubs
      // (a fake KV whose put rejects, a stop() with nothing to stop). Dropping `async` as the rule
      // asks would turn a rejection into a synchronous throw: a change of behaviour, not a fix.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Payload without generated types gives documents as `Record<string, any>`, and the tests
    // read documents and call adapter methods by name; `any` there is the data, not a shortcut.
    // The library's src keeps every rule, so `any` cannot reach its public API.
    files: ['packages/*/test/**/*.ts', 'examples/*/test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // CommonJS outside every tsconfig (the Jest resolver of `pnpm test:payload-latest`, which
    // Jest loads with `require`): linted without type information.
    files: ['**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', process: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // Formatting is Prettier's: switch off every rule that would fight it.
  prettier,
)
