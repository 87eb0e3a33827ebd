/**
 * The editorial site of section 1's second workload: a newsroom's Payload config. Bundled
 * into the bench Worker as well, so nothing here may import Node built-ins.
 *
 * What makes it realistic for a cache: posts have drafts with autosave (editors' saves that
 * only touch versions), public reads are limited to published posts by access control (so
 * every REST read carries a `_status` filter Payload merges into `where`), lists filter on
 * relationships (category, author) and sort on `publishedAt`, and the header global
 * populates categories.
 */
import type { Access, CollectionConfig, DatabaseAdapterObj, GlobalConfig } from 'payload'
import { buildConfig } from 'payload'

/** Visitors see published posts only; editors (the Local API here) see everything. */
const publishedOnly: Access = ({ req }) => (req.user ? true : { _status: { equals: 'published' } })
const publicRead = { read: () => true }

const collections = (): CollectionConfig[] => [
  {
    slug: 'authors',
    access: publicRead,
    fields: [
      { name: 'name', type: 'text', required: true },
      { name: 'slug', type: 'text', index: true },
      { name: 'bio', type: 'textarea' },
    ],
  },
  {
    slug: 'categories',
    access: publicRead,
    fields: [
      { name: 'title', type: 'text', required: true },
      { name: 'slug', type: 'text', index: true },
    ],
  },
  {
    slug: 'posts',
    access: { read: publishedOnly },
    // Autosave as the admin panel does it: an editor typing saves a version every few seconds.
    versions: { drafts: { autosave: { interval: 2000 } }, maxPerDoc: 20 },
    fields: [
      { name: 'title', type: 'text', required: true },
      { name: 'slug', type: 'text', index: true },
      { name: 'excerpt', type: 'textarea' },
      { name: 'body', type: 'textarea' },
      { name: 'publishedAt', type: 'date', index: true },
      { name: 'category', type: 'relationship', relationTo: 'categories', index: true },
      { name: 'author', type: 'relationship', relationTo: 'authors', index: true },
    ],
  },
]

const globals = (): GlobalConfig[] => [
  {
    slug: 'header',
    access: publicRead,
    fields: [
      { name: 'siteName', type: 'text' },
      {
        name: 'nav',
        type: 'array',
        fields: [
          { name: 'label', type: 'text' },
          { name: 'category', type: 'relationship', relationTo: 'categories' },
        ],
      },
    ],
  },
  {
    slug: 'footer',
    access: publicRead,
    fields: [
      { name: 'text', type: 'textarea' },
      {
        name: 'links',
        type: 'array',
        fields: [
          { name: 'label', type: 'text' },
          { name: 'url', type: 'text' },
        ],
      },
    ],
  },
]

export function editorialConfig(db: DatabaseAdapterObj) {
  return buildConfig({
    secret: process.env.PAYLOAD_SECRET ?? 'payload-kv-cache-bench-editorial',
    collections: collections(),
    globals: globals(),
    db,
    telemetry: false,
    typescript: { autoGenerate: false },
    logger: { options: { level: 'warn' } },
  })
}
