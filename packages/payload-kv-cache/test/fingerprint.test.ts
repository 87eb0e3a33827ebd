import { describe, expect, it } from '@jest/globals'
import { sqliteAdapter } from '@payloadcms/db-sqlite'
import type { CollectionConfig } from 'payload'
import { buildConfig } from 'payload'
import { FORMAT_VERSION } from '../src/codec.js'
import { keyNamespace, schemaFingerprint } from '../src/fingerprint.js'
import { STAMP_PROTOCOL_VERSION } from '../src/invalidation/stamp-tokens.js'
import { siteCollections, siteGlobals } from './support/app.js'

type Site = { collections: CollectionConfig[]; globals: ReturnType<typeof siteGlobals>; localization: object; blocks?: unknown[] }

const config = (extra?: (c: CollectionConfig[], site: Site) => void): Site => {
  const collections = siteCollections()
  const site: Site = { collections, globals: siteGlobals(), localization: { localeCodes: ['en', 'de'], defaultLocale: 'en' } }
  extra?.(collections, site)
  return site
}

const slugged = (c: CollectionConfig[], slug: string) => c.find((each) => each.slug === slug)!
const field = (c: CollectionConfig[], slug: string, name: string) =>
  slugged(c, slug).fields.find((f) => 'name' in f && f.name === name) as Record<string, unknown>

/** An adapter instance as the factories build it: options as fields, methods as functions. */
const adapter = (extra: Record<string, unknown> = {}) => ({
  name: 'sqlite',
  idType: 'number',
  defaultIDType: 'number',
  blocksAsJSON: false,
  localesSuffix: '_locales',
  relationshipsSuffix: '_rels',
  versionsSuffix: '_v',
  find: () => undefined,
  ...extra,
})

describe('schema fingerprint (part of every key)', () => {
  it('is stable for the same schema, whatever the hooks', () => {
    const withHook = config((c) => {
      c[0]!.hooks = { afterRead: [({ doc }) => doc] }
    })
    expect(schemaFingerprint(config())).toBe(schemaFingerprint(config()))
    expect(schemaFingerprint(withHook)).toBe(schemaFingerprint(config()))
  })

  it('changes when a field is added, renamed, localized, or a relation retargeted', () => {
    const base = schemaFingerprint(config())
    const variants = [
      config((c) => c[2]!.fields.push({ name: 'subtitle', type: 'text' })),
      config((c) => {
        ;(c[1]!.fields[0] as { name: string }).name = 'label'
      }),
      config((c) => {
        ;(c[1]!.fields[0] as { localized?: boolean }).localized = true
      }),
      config((c) => {
        const author = c[2]!.fields.find((f) => 'name' in f && f.name === 'author') as { relationTo: string }
        author.relationTo = 'categories'
      }),
      { ...config(), localization: { localeCodes: ['en', 'de', 'fr'], defaultLocale: 'en' } },
    ]
    for (const variant of variants) expect(schemaFingerprint(variant)).not.toBe(base)
  })

  // Each setting an adapter applies when the call does not say (the list in fingerprint.ts).
  it.each<[string, (c: CollectionConfig[], site: Site) => void]>([
    ["a collection's defaultSort", (c) => void (slugged(c, 'notes').defaultSort = 'text')],
    ["a collection's defaultSort as a list", (c) => void (slugged(c, 'notes').defaultSort = ['text', '-id'])],
    ["a join field's defaultLimit", (c) => void (field(c, 'authors', 'posts').defaultLimit = 3)],
    ["a join field's defaultSort", (c) => void (field(c, 'authors', 'posts').defaultSort = 'views')],
    ["a polymorphic join's defaultSort", (c) => void (field(c, 'authors', 'everything').defaultSort = 'id')],
    ['timestamps off', (c) => void (slugged(c, 'notes').timestamps = false)],
    ['drafts turned off', (c) => void (slugged(c, 'posts').versions = { maxPerDoc: 20 })],
    ['autosave turned off', (c) => void (slugged(c, 'posts').versions = { drafts: true, maxPerDoc: 20 })],
    ["a collection's dbName", (c) => void (slugged(c, 'notes').dbName = 'jottings')],
    ["a field's dbName", (c) => void (field(c, 'posts', 'tags').dbName = 'labels')],
    ["a global's dbName", (_, site) => void (site.globals[0]!.dbName = 'top_banner')],
    ['a field made unique (MongoDB sorts without a fallback)', (c) => void (field(c, 'notes', 'text').unique = true)],
    ['text made hasMany', (c) => void (field(c, 'notes', 'text').hasMany = true)],
    ['a custom id type', (c) => void slugged(c, 'notes').fields.unshift({ name: 'id', type: 'text' })],
    ['a custom id of another type', (c) => void slugged(c, 'notes').fields.unshift({ name: 'id', type: 'number' })],
    ['the default locale', (_, site) => void (site.localization = { localeCodes: ['en', 'de'], defaultLocale: 'de' })],
    [
      "a block's dbName",
      (c) =>
        void slugged(c, 'notes').fields.push({
          name: 'layout',
          type: 'blocks',
          blocks: [{ slug: 'hero', dbName: 'h', fields: [{ name: 'heading', type: 'text' }] }],
        }),
    ],
  ])('changes with %s', (_, change) => {
    expect(schemaFingerprint(config(change))).not.toBe(schemaFingerprint(config()))
  })

  it('changes with the fields of a block a field references (config.blocks)', () => {
    const referencing = (heading: string) =>
      config((c, site) => {
        slugged(c, 'notes').fields.push({ name: 'layout', type: 'blocks', blocks: [], blockReferences: ['hero'] })
        site.blocks = [{ slug: 'hero', fields: [{ name: heading, type: 'text' }] }]
      })
    expect(schemaFingerprint(referencing('heading'))).toBe(schemaFingerprint(referencing('heading')))
    expect(schemaFingerprint(referencing('title'))).not.toBe(schemaFingerprint(referencing('heading')))
  })

  // Settings Payload's sanitize turns into fields or defaults: the fingerprint sees the sanitized config.
  it.each<[string, (c: CollectionConfig[]) => void]>([
    ['trash (soft delete)', (c) => void (slugged(c, 'notes').trash = true)],
    ['an orderable collection', (c) => void (slugged(c, 'notes').orderable = true)],
    ['an orderable join', (c) => void (field(c, 'authors', 'posts').orderable = true)],
  ])('changes with %s, through the sanitized config', async (_, change) => {
    const sanitized = async (collections: CollectionConfig[]) =>
      buildConfig({
        secret: 'fingerprint',
        collections,
        globals: siteGlobals(),
        localization: { locales: ['en', 'de'], defaultLocale: 'en' },
        db: sqliteAdapter({ client: { url: 'file::memory:' } }),
        telemetry: false,
        typescript: { autoGenerate: false },
      })
    const changed = siteCollections()
    change(changed)
    expect(schemaFingerprint(await sanitized(changed))).not.toBe(schemaFingerprint(await sanitized(siteCollections())))
  })

  it.each<[string, (c: CollectionConfig[], site: Site) => void]>([
    [
      "a join field's where (Payload merges it into the call's joins)",
      (c) => void (field(c, 'authors', 'posts').where = { views: { gt: 1 } }),
    ],
    ['localization fallback (applied after the adapter)', (_, site) => void Object.assign(site.localization, { fallback: false })],
    [
      'localizeStatus (read by write operations only)',
      (c) => void (slugged(c, 'posts').versions = { drafts: { autosave: true, localizeStatus: true } }),
    ],
    ['versions maxPerDoc', (c) => void (slugged(c, 'posts').versions = { drafts: { autosave: true }, maxPerDoc: 5 })],
    [
      'access and admin settings',
      (c) => void Object.assign(slugged(c, 'notes'), { access: { read: () => true }, admin: { useAsTitle: 'text' } }),
    ],
    ['a function dbName', (c) => void (slugged(c, 'notes').dbName = (() => 'notes') as unknown as string)],
    [
      'a field hook and validator',
      (c) => void Object.assign(field(c, 'notes', 'text'), { hooks: { afterRead: [() => 'x'] }, validate: () => true }),
    ],
  ])('does not change with %s', (_, change) => {
    expect(schemaFingerprint(config(change))).toBe(schemaFingerprint(config()))
  })
})

describe('key namespace: adapter, adapter options, entry format, stamp protocol', () => {
  const base = keyNamespace(adapter(), config())

  it('names the adapter, the entry format and the stamp protocol', () => {
    expect(base).toBe(`sqlite:${schemaFingerprint(config(), adapter())}:f${FORMAT_VERSION}:s${STAMP_PROTOCOL_VERSION}`)
    expect(keyNamespace(adapter({ name: 'postgres' }), config())).not.toBe(base)
  })

  it.each<[string, unknown]>([
    ['idType', 'uuid'],
    ['defaultIDType', 'text'],
    ['blocksAsJSON', true],
    ['localesSuffix', '_loc'],
    ['relationshipsSuffix', '_relations'],
    ['versionsSuffix', '_versions'],
    ['schemaName', 'site'],
    ['limitedBoundParameters', true],
    ['collation', { strength: 2 }],
    ['collectionsSchemaOptions', { notes: { collation: { locale: 'en', strength: 1 } } }],
    ['autoPluralization', false],
    ['disableFallbackSort', true],
    ['useJoinAggregations', false],
    ['allowAdditionalKeys', true],
    ['useBigIntForNumberIDs', true],
  ])('changes with the adapter option %s', (option, value) => {
    expect(keyNamespace(adapter({ [option]: value }), config())).not.toBe(base)
  })

  it('does not change with options no read depends on, or with methods', () => {
    const same = adapter({
      allowIDOnCreate: true,
      autoIncrement: true,
      disableIndexHints: true,
      usePipelineInSortLookup: false,
      readReplicasAfterWriteInterval: 500,
      sessions: { a: {} },
      find: () => 'another find',
      collation: undefined,
    })
    expect(keyNamespace(same, config())).toBe(base)
    // a function inside an option's object is left out like any function
    expect(keyNamespace(adapter({ collation: { strength: 2, compare: () => 0 } }), config())).toBe(
      keyNamespace(adapter({ collation: { strength: 2 } }), config()),
    )
  })
})
