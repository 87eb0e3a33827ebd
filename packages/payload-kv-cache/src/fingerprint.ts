import { FORMAT_VERSION } from './codec.js'
import { STAMP_PROTOCOL_VERSION } from './invalidation/stamp-tokens.js'
import { digest } from './keys.js'

/*
 * What the key holds besides the call's arguments (DESIGN.md 16, issue 21 item 2). Two
 * deploys sharing one KV prefix and one database (a gradual rollout runs two at once) must
 * never read each other's entry for a call their configs answer differently. The adapters
 * fill in what a call leaves out from the config and from their own options, so every such
 * setting is digested here. Read from the adapters' source at 3.87.1 (@payloadcms/drizzle:
 * db-postgres, db-sqlite and db-d1-sqlite share it; @payloadcms/db-mongodb), file by file:
 *
 * Collection and global settings
 * - `defaultSort` (collection): the sort when the call gives none. drizzle `find.js`,
 *   `findVersions.js`; mongodb `find.js`, `queryDrafts.js`; both through Payload's
 *   `getQueryDraftsSort` for joins into drafts, and mongodb's `utilities/buildJoinAggregation.js`
 *   and `utilities/resolveJoins.js` for a join field without a `defaultSort` of its own.
 *   An `orderable` collection gets `'_order'` here from Payload's sanitize, so it is covered.
 * - `timestamps`: the default and fallback sort (`-createdAt`, else `-id`). mongodb
 *   `find.js` → `queries/buildSortParam.js`; drizzle `queries/buildOrderBy.js` looks for the
 *   `createdAt` column, which exists when the field does (fields below).
 * - `versions.drafts`: joins read the target's versions table when the call wants drafts
 *   (drizzle `find/traverseFields.js` `hasDraftsEnabled`; mongodb `buildJoinAggregation.js`,
 *   `resolveJoins.js`); `versions.drafts.autosave`: the version rows' `autosave` column
 *   (Payload's `buildVersionCollectionFields`, called by drizzle `findVersions.js`,
 *   `queryDrafts.js`, `find/traverseFields.js`).
 * - `dbName` (collection, global, block, field) when a string: the table (drizzle
 *   `tableNameMap`, built from it) or the MongoDB collection (`utilities/getDBName.js`). A
 *   function `dbName` is left out like every function; its result is stable for one source.
 * - Fields, nested through groups, tabs, rows, arrays and blocks (`config.blocks` too, which
 *   `blockReferences` name): `name`, `type`, `localized`, `hasMany` (text, number, select,
 *   relationship: separate tables in drizzle `find/traverseFields.js` and
 *   `transform/read/hasManyText.js`, `hasManyNumber.js`), `relationTo`, `collection` and `on`
 *   (join), `virtual`, select `options`, the id field's type (custom ids: drizzle
 *   `utilities/getCollectionIdType.js` via `customIDType`), and:
 *   - a join field's `defaultLimit` (10 when unset) and `defaultSort`: drizzle
 *     `find/traverseFields.js`, `transform/read/traverseFields.js`; mongodb
 *     `buildJoinAggregation.js`, `resolveJoins.js`. An `orderable` join gets its order
 *     field as `defaultSort`, and the target collection an `_<...>_order` field, in sanitize.
 *   - `unique`: mongodb adds no fallback sort after a unique one (`queries/buildSortParam.js`).
 *   Payload's sanitize adds the fields that `trash` (`deletedAt`), `timestamps`, `auth`,
 *   `upload`, drafts (`_status`) and `orderable` bring, so those settings are covered here.
 * - Localization: `localeCodes` (drizzle `transform/read/traverseFields.js`, the locales
 *   tables; mongodb `utilities/transform.js`, `buildProjectionFromSelect.js`) and
 *   `defaultLocale` (mongodb's collation in `find.js` and the other list reads,
 *   `queries/buildSearchParams.js`, `resolveJoins.js`).
 *
 * Adapter options (on the instance)
 * - drizzle: `idType` and `defaultIDType` (`queries/getTableColumnFromPath.js`,
 *   `queries/sanitizeQueryValue.js`, `utilities/getCollectionIdType.js`), `blocksAsJSON`
 *   (`find/traverseFields.js`, `queries/parseParams.js`, `transform/read/traverseFields.js`),
 *   `localesSuffix`, `relationshipsSuffix`, `versionsSuffix` (`find/buildFindManyArgs.js`,
 *   `findVersions.js`, `queryDrafts.js`, `count*Versions.js`), `schemaName`
 *   (`find/traverseFields.js`, and which schema every table lives in), `limitedBoundParameters`
 *   (D1: `queries/parseParams.js` spells `in` on ids as literals and refuses some values).
 * - mongodb: `collation` (every list read, `find.js`), `collectionsSchemaOptions` (a
 *   collection's mongoose schema, its default collation among them: `init.js`),
 *   `autoPluralization` (the collection's name, `init.js`), `disableFallbackSort`
 *   (`queries/buildSortParam.js`), `useJoinAggregations` (`buildJoinAggregation.js` or
 *   `resolveJoins.js`), `allowAdditionalKeys` and `useBigIntForNumberIDs`
 *   (`utilities/transform.js`).
 * - The adapter's `name` (in `keyNamespace`).
 *
 * Read and left out, because no read's answer depends on them:
 * - A join field's `where`: Payload's `sanitizeJoinQuery` merges it into the call's `joins`
 *   before the adapter sees it (the adapters never read it), so it is in the arguments.
 * - Localization `fallback` and a locale's `fallbackLocale`: applied by Payload's afterRead,
 *   after the adapter. `versions.drafts.localizeStatus`: read by Payload's write operations
 *   and `replaceWithDraftIfAvailable`, not by the adapters.
 * - `allowIDOnCreate`, sqlite's `autoIncrement`: which id a create gets, not what a read says.
 *   mongodb's `disableIndexHints` (a count's speed) and `usePipelineInSortLookup` (set, never
 *   read). Hooks, access, validators, admin settings: functions or outside the adapter.
 *
 * The library's own format is in `keyNamespace` too: the entry format (`codec.ts`) and the
 * stamp protocol (`invalidation/stamp-tokens.ts`), so two library versions never read each
 * other's entries, nor overwrite them in turn.
 */

/** Field settings that shape what the adapter returns (see above); functions are skipped. */
const FIELD_KEYS = [
  'name',
  'type',
  'localized',
  'hasMany',
  'relationTo',
  'collection',
  'on',
  'virtual',
  'maxDepth',
  'defaultValue',
  'unique',
  'dbName',
  'defaultLimit',
  'defaultSort',
] as const

/** Options on the adapter instance that shape a read's answer (see above). */
const ADAPTER_KEYS = [
  'idType',
  'defaultIDType',
  'blocksAsJSON',
  'localesSuffix',
  'relationshipsSuffix',
  'versionsSuffix',
  'schemaName',
  'limitedBoundParameters',
  'collation',
  'collectionsSchemaOptions',
  'autoPluralization',
  'disableFallbackSort',
  'useJoinAggregations',
  'allowAdditionalKeys',
  'useBigIntForNumberIDs',
] as const

/**
 * Everything digested besides a call's arguments: the adapter, the schema fingerprint, the
 * entry format and the stamp protocol. Two instances with different namespaces never share
 * an entry.
 */
export function keyNamespace(adapter: unknown, config: unknown): string {
  const name = (adapter as { name?: unknown } | null | undefined)?.name
  return `${typeof name === 'string' ? name : 'unknown'}:${schemaFingerprint(config, adapter)}:f${FORMAT_VERSION}:s${STAMP_PROTOCOL_VERSION}`
}

/**
 * A digest of the parts of the config and the adapter's options that shape what the adapter
 * returns (the list above). It is part of every key, so a deploy that adds a field or
 * changes a default sort, or a different site sharing the prefix by mistake, never reads
 * entries in the other shape. Functions (hooks, validators) do not change stored data and
 * are left out. One walk over the fields, run at every cold start: it stays a single pass.
 */
export function schemaFingerprint(config: unknown, adapter?: unknown): string {
  const c = (config ?? {}) as Record<string, unknown>
  const scopes = (list: unknown) =>
    Array.isArray(list)
      ? list.map((entry: Record<string, unknown>) => {
          const versions = entry.versions as { drafts?: unknown } | boolean | undefined
          const drafts = typeof versions === 'object' && versions !== null ? versions.drafts : undefined
          return {
            slug: entry.slug,
            dbName: stringOrNull(entry.dbName),
            defaultSort: sortOrNull(entry.defaultSort),
            versions: Boolean(versions),
            drafts: Boolean(drafts),
            autosave: Boolean(typeof drafts === 'object' && drafts !== null && (drafts as { autosave?: unknown }).autosave),
            timestamps: entry.timestamps !== false,
            fields: fields(entry.fields, 0),
          }
        })
      : []
  const localization = c.localization as { localeCodes?: unknown; defaultLocale?: unknown } | false | undefined
  return digest(
    JSON.stringify({
      collections: scopes(c.collections),
      globals: scopes(c.globals),
      blocks: blocks(c.blocks, 0),
      locales: localization ? [localization.localeCodes, localization.defaultLocale] : null,
      adapter: adapterSettings(adapter),
    }),
  ).slice(0, 16)
}

function adapterSettings(adapter: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (adapter === null || typeof adapter !== 'object') return out
  const source = adapter as Record<string, unknown>
  for (const key of ADAPTER_KEYS) {
    const value = plain(source[key], 0)
    if (value !== undefined) out[key] = value
  }
  return out
}

/** Plain data as it is, functions and anything else JSON cannot say dropped, depth bounded. */
function plain(value: unknown, depth: number): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value)
  if (typeof value !== 'object' || depth > 8) return undefined
  if (Array.isArray(value)) return value.map((item) => plain(item, depth + 1) ?? null)
  const out: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(value)) {
    const kept = plain(item, depth + 1)
    if (kept !== undefined) out[key] = kept
  }
  return out
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null
}

function sortOrNull(value: unknown): unknown {
  return typeof value === 'string' || Array.isArray(value) ? value : null
}

function blocks(list: unknown, depth: number): unknown {
  return Array.isArray(list)
    ? list.map((block: Record<string, unknown>) => ({
        slug: block.slug,
        dbName: stringOrNull(block.dbName),
        fields: fields(block.fields, depth + 1),
      }))
    : []
}

function fields(list: unknown, depth: number): unknown {
  if (!Array.isArray(list) || depth > 32) return []
  return list.map((raw) => {
    if (raw === null || typeof raw !== 'object') return null
    const field = raw as Record<string, unknown>
    const out: Record<string, unknown> = {}
    for (const key of FIELD_KEYS) {
      const value = field[key]
      if (value !== undefined && typeof value !== 'function' && (typeof value !== 'object' || Array.isArray(value))) out[key] = value
    }
    if (field.fields) out.fields = fields(field.fields, depth + 1)
    if (Array.isArray(field.tabs))
      out.tabs = field.tabs.map((tab: Record<string, unknown>) => ({ name: tab.name, fields: fields(tab.fields, depth + 1) }))
    if (Array.isArray(field.blocks)) out.blocks = blocks(field.blocks, depth)
    if (Array.isArray(field.blockReferences))
      out.blockReferences = field.blockReferences.map((ref: unknown) => (typeof ref === 'string' ? ref : (ref as { slug?: unknown }).slug))
    if (Array.isArray(field.options))
      out.options = field.options.map((o: unknown) => (typeof o === 'object' && o !== null ? (o as { value?: unknown }).value : o))
    return out
  })
}
