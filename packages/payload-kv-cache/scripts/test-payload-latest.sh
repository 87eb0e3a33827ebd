#!/usr/bin/env bash
# `pnpm test:payload-latest` (README, Development): runs the SQLite and Postgres database suites
# against the newest Payload on the registry (or PKC_PAYLOAD_VERSION) without touching the
# workspace's pinned 3.87.1. Payload and its drizzle adapters are installed into a scratch
# project outside the workspace (PKC_PAYLOAD_DIR, default $TMPDIR/pkc-payload-<version>), and
# Jest resolves `payload` and `@payloadcms/*` from there (scripts/payload-resolver.cjs). Each
# test file prints the Payload version it loaded. Extra arguments go to Jest (`-t <name>`).
# D1's adapter (`@payloadcms/db-d1-sqlite`) has no release past 3.87.1, so D1 is not run.
set -euo pipefail
cd "$(dirname "$0")/../../.."

PNPM_VERSION=10.34.9
if command -v pnpm >/dev/null 2>&1 && [ "$(pnpm -v 2>/dev/null)" = "$PNPM_VERSION" ]; then
  PNPM=(pnpm)
else
  PNPM=(npx --yes "pnpm@$PNPM_VERSION")
fi

version=${PKC_PAYLOAD_VERSION:-$(npm view payload version)}
dir=${PKC_PAYLOAD_DIR:-${TMPDIR:-/tmp}/pkc-payload-$version}
graphql=$(node -p "require('./packages/payload-kv-cache/package.json').devDependencies.graphql")

mkdir -p "$dir"
cat >"$dir/package.json" <<JSON
{
  "name": "pkc-payload-$version",
  "private": true,
  "type": "module",
  "dependencies": {
    "payload": "$version",
    "@payloadcms/db-postgres": "$version",
    "@payloadcms/db-sqlite": "$version",
    "@payloadcms/drizzle": "$version",
    "graphql": "$graphql"
  }
}
JSON
# Outside the workspace, so pnpm treats it as a project of its own; reruns reuse the install.
"${PNPM[@]}" install --dir "$dir" --config.auto-install-peers=true --reporter=append-only

# The library and its tests type-check against the newer Payload's types too. The config sits
# beside the package's own (it extends it) for the run only.
package=packages/payload-kv-cache
config=$package/tsconfig.payload-latest.json
trap 'rm -f "$config"' EXIT
cat >"$config" <<JSON
{
  "extends": "./tsconfig.json",
  "compilerOptions": {
    "paths": {
      "payload": ["$dir/node_modules/payload/dist/index.d.ts"],
      "@payloadcms/db-postgres": ["$dir/node_modules/@payloadcms/db-postgres/dist/index.d.ts"],
      "@payloadcms/db-sqlite": ["$dir/node_modules/@payloadcms/db-sqlite/dist/index.d.ts"]
    }
  }
}
JSON
node_modules/.bin/tsc -p "$config"
echo "payload-kv-cache: src and test type-check against payload $version"

echo "payload-kv-cache: database suites against payload $version from $dir"
PKC_PAYLOAD_DIR="$dir" PKC_PAYLOAD_VERSION="$version" node --experimental-vm-modules --no-warnings node_modules/jest/bin/jest.js \
  packages/payload-kv-cache/test/sqlite.test.ts packages/payload-kv-cache/test/postgres.test.ts "$@"
