import type { CollectionConfig, DatabaseAdapterObj, GlobalConfig } from 'payload'
import { buildConfig } from 'payload'

/**
 * Public reads, as a magazine's API has; writes stay behind Payload's default access (a
 * logged-in user), and the demo makes them through the Local API, as the admin panel does.
 */
const publicRead = { read: () => true }

/** A small magazine: what a read-heavy Payload site looks like, and what makes caching hard. */
const collections = (): CollectionConfig[] => [
  {
    slug: 'authors',
    access: publicRead,
    fields: [
      { name: 'name', type: 'text', required: true },
      { name: 'bio', type: 'textarea' },
      // Resolved inside the database query: writing a post changes this author's reads.
      { name: 'posts', type: 'join', collection: 'posts', on: 'author' },
    ],
  },
  {
    slug: 'categories',
    access: publicRead,
    fields: [{ name: 'title', type: 'text', required: true }],
  },
  {
    slug: 'posts',
    access: publicRead,
    versions: { drafts: true },
    fields: [
      { name: 'title', type: 'text', localized: true, required: true },
      { name: 'body', type: 'textarea', localized: true },
      { name: 'views', type: 'number' },
      { name: 'author', type: 'relationship', relationTo: 'authors' },
      { name: 'categories', type: 'relationship', relationTo: 'categories', hasMany: true },
    ],
  },
]

const globals = (): GlobalConfig[] => [
  {
    slug: 'site',
    access: publicRead,
    fields: [
      { name: 'title', type: 'text', localized: true },
      { name: 'featured', type: 'relationship', relationTo: 'posts', hasMany: true },
    ],
  },
]

export function siteConfig(db: DatabaseAdapterObj) {
  return buildConfig({
    secret: process.env.PAYLOAD_SECRET ?? 'payload-kv-cache-example',
    collections: collections(),
    globals: globals(),
    localization: { locales: ['en', 'de'], defaultLocale: 'en', fallback: true },
    db,
    telemetry: false,
    typescript: { autoGenerate: false },
    logger: { options: { level: 'warn' } },
  })
}

/** The magazine's collections and globals, for a site that builds its own config around them (examples/website adds its admin users). */
export { collections as magazineCollections, globals as magazineGlobals }
