import { digest } from './keys.js'

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
] as const

/**
 * A digest of the parts of the config that shape what the adapter returns: fields (names,
 * types, nesting, relations), versions and drafts, locales. It is part of every key, so
 * a deploy that adds a field, or a different site sharing the prefix by mistake, never reads
 * entries in the old shape. Functions (hooks, validators) do not change stored data and are
 * left out.
 */
export function schemaFingerprint(config: unknown): string {
  const c = (config ?? {}) as Record<string, unknown>
  const scopes = (list: unknown) =>
    Array.isArray(list)
      ? list.map((entry: Record<string, unknown>) => ({
          slug: entry.slug,
          versions: Boolean(entry.versions),
          drafts: Boolean((entry.versions as { drafts?: unknown } | undefined)?.drafts),
          timestamps: entry.timestamps !== false,
          fields: fields(entry.fields, 0),
        }))
      : []
  const localization = c.localization as { localeCodes?: unknown; defaultLocale?: unknown } | false | undefined
  return digest(
    JSON.stringify({
      collections: scopes(c.collections),
      globals: scopes(c.globals),
      locales: localization ? [localization.localeCodes, localization.defaultLocale] : null,
    }),
  ).slice(0, 16)
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
    if (Array.isArray(field.blocks))
      out.blocks = field.blocks.map((block: Record<string, unknown>) => ({ slug: block.slug, fields: fields(block.fields, depth + 1) }))
    if (Array.isArray(field.blockReferences))
      out.blockReferences = field.blockReferences.map((ref: unknown) => (typeof ref === 'string' ? ref : (ref as { slug?: unknown }).slug))
    if (Array.isArray(field.options))
      out.options = field.options.map((o: unknown) => (typeof o === 'object' && o !== null ? (o as { value?: unknown }).value : o))
    return out
  })
}
