import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PostgresServer } from '@pkc/testkit'
import { closePayload } from '@pkc/testkit'
import type { CollectionConfig, DatabaseAdapterObj, GlobalConfig, Payload } from 'payload'
import { buildConfig, getPayload } from 'payload'
import type { KVCacheHandle, KVCacheOptions, KVNamespaceLike } from '../../src/index.js'
import { withKVCache } from '../../src/index.js'
import type { D1Pool } from './d1.js'

export type DatabaseKind = 'sqlite' | 'postgres' | 'd1' | 'mongodb'

/**
 * A small site with what makes caching hard: a relationship, a hasMany relationship, a join
 * field, localized fields, drafts with autosave, a versioned global and an auth collection.
 */
export const siteCollections = (): CollectionConfig[] => [
  {
    slug: 'authors',
    fields: [
      { name: 'name', type: 'text', required: true },
      { name: 'bio', type: 'textarea' },
      { name: 'posts', type: 'join', collection: 'posts', on: 'author' },
      // Polymorphic: posts and comments that name this author.
      { name: 'everything', type: 'join', collection: ['posts', 'comments'], on: 'author' },
      { name: 'favourite', type: 'relationship', relationTo: 'categories' },
    ],
  },
  {
    slug: 'categories',
    fields: [{ name: 'title', type: 'text', required: true }],
  },
  {
    slug: 'posts',
    versions: { drafts: { autosave: true }, maxPerDoc: 20 },
    fields: [
      { name: 'title', type: 'text', localized: true },
      { name: 'body', type: 'textarea' },
      { name: 'views', type: 'number' },
      { name: 'publishedOn', type: 'date' },
      { name: 'author', type: 'relationship', relationTo: 'authors' },
      { name: 'categories', type: 'relationship', relationTo: 'categories', hasMany: true },
      { name: 'tags', type: 'select', hasMany: true, options: ['news', 'tech', 'life'] },
      {
        name: 'meta',
        type: 'group',
        fields: [
          { name: 'score', type: 'number' },
          { name: 'note', type: 'text' },
        ],
      },
      { name: 'data', type: 'json' },
    ],
  },
  {
    slug: 'notes',
    fields: [{ name: 'text', type: 'text' }],
  },
  {
    slug: 'comments',
    fields: [
      { name: 'text', type: 'text' },
      { name: 'author', type: 'relationship', relationTo: 'authors' },
      // Threads point at their own collection: a delete changes other rows of it (SQL).
      { name: 'replyTo', type: 'relationship', relationTo: 'comments' },
      { name: 'quotes', type: 'relationship', relationTo: 'comments', hasMany: true },
    ],
  },
  {
    slug: 'users',
    auth: true,
    fields: [{ name: 'name', type: 'text' }],
  },
]

export const siteGlobals = (): GlobalConfig[] => [
  { slug: 'banner', fields: [{ name: 'text', type: 'text' }] },
  {
    slug: 'settings',
    versions: { drafts: true, max: 20 },
    fields: [
      { name: 'siteName', type: 'text', localized: true },
      { name: 'featured', type: 'relationship', relationTo: 'posts' },
    ],
  },
]

export interface Database {
  kind: DatabaseKind
  /** A fresh adapter on the same database each call, so two Payload instances share it. */
  /** Extra options go to the adapter as they are (`readReplicas`, ...). */
  adapter(options?: { push?: boolean } & Record<string, unknown>): DatabaseAdapterObj
  /** Postgres: where the database is. */
  connectionString?: string
}

let instance = 0

export async function createDatabase(
  kind: DatabaseKind,
  servers: { postgres?: PostgresServer; d1?: D1Pool },
  options: { transactions?: boolean } = {},
): Promise<Database> {
  const name = `pkc_${kind}_${instance++}`
  const { postgres, d1 } = servers
  if (kind === 'sqlite') {
    const { sqliteAdapter } = await import('@payloadcms/db-sqlite')
    const file = join(mkdtempSync(join(tmpdir(), 'pkc-sqlite-')), 'test.db')
    // Transactions are off by default in db-sqlite (req.transactionID resolves to null).
    const transactionOptions = options.transactions ? {} : false
    return {
      kind,
      adapter: (adapterOptions = {}) => sqliteAdapter({ client: { url: `file:${file}` }, transactionOptions, ...adapterOptions }),
    }
  }
  if (kind === 'd1') {
    if (!d1) throw new Error('D1 pool missing')
    const { sqliteD1Adapter } = await import('@payloadcms/db-d1-sqlite')
    const binding = (await d1.next()) as Parameters<typeof sqliteD1Adapter>[0]['binding']
    // D1 has no interactive transactions: the adapter runs every call on its own.
    return { kind, adapter: (adapterOptions = {}) => sqliteD1Adapter({ binding, ...adapterOptions }) }
  }
  if (kind === 'postgres') {
    if (!postgres) throw new Error('postgres server missing')
    const { postgresAdapter } = await import('@payloadcms/db-postgres')
    const connectionString = await postgres.createDatabase(name)
    return {
      kind,
      connectionString,
      adapter: (adapterOptions = {}) => postgresAdapter({ pool: { connectionString, max: 5 }, ...adapterOptions }),
    }
  }
  const uri = process.env.MONGODB_URI
  if (!uri) throw new Error('MONGODB_URI is not set')
  const { mongooseAdapter } = await import('@payloadcms/db-mongodb')
  const url = new URL(uri)
  url.pathname = `/${name}_${process.pid}`
  return { kind, adapter: () => mongooseAdapter({ url: url.toString() }) }
}

let key = 0

export async function startPayload(db: DatabaseAdapterObj, site: { collections?: CollectionConfig[] } = {}): Promise<Payload> {
  return getPayload({ config: siteConfig(db, site), key: `pkc-${process.pid}-${key++}`, cron: false })
}

/** The test site's config; `collections` replaces the site's (for a config that changed). */
export function siteConfig(db: DatabaseAdapterObj, site: { collections?: CollectionConfig[] } = {}): ReturnType<typeof buildConfig> {
  return buildConfig({
    secret: 'payload-kv-cache-tests',
    // Fresh each time: buildConfig adds Payload's own collections to the arrays it is given.
    collections: site.collections ?? siteCollections(),
    globals: siteGlobals(),
    localization: { locales: ['en', 'de'], defaultLocale: 'en', fallback: true },
    db,
    // One task, so Payload adds its payload-jobs collection and updateJobs is exercised.
    jobs: { tasks: [{ slug: 'noop', handler: async () => ({ output: {} }) }] },
    telemetry: false,
    typescript: { autoGenerate: false },
    logger: { options: { level: 'error' } },
  })
}

export interface Pair {
  /** Payload over the wrapped adapter. */
  cached: Payload
  /** Payload over an unwrapped adapter on the same database: what the database says. */
  plain: Payload
  cache: KVCacheHandle
  stop(): Promise<void>
}

/** A wrapped and an unwrapped Payload on one database: the differential pair. */
export async function startPair(database: Database, kv: KVNamespaceLike, options: Omit<KVCacheOptions, 'kv'> = {}): Promise<Pair> {
  const wrapped = withKVCache(database.adapter(), { kv, ...options })
  const cached = await startPayload(wrapped)
  const plain = await startPayload(database.adapter())
  return {
    cached,
    plain,
    cache: wrapped.kvCache,
    stop: async () => {
      await wrapped.kvCache.settled()
      await closePayload(plain)
      await closePayload(cached)
    },
  }
}

/**
 * Adapter methods a database's Payload adapter does not have (3.87.1): db-d1-sqlite has no
 * `findDistinct`, and its `upsert` is its `updateOne` (it never inserts). Not the cache's to
 * add; the suites leave out what assumes them.
 */
export function missingFeatures(kind: DatabaseKind): { findDistinct: boolean; upsertInserts: boolean } {
  return kind === 'd1' ? { findDistinct: true, upsertInserts: true } : { findDistinct: false, upsertInserts: false }
}

export function databaseKinds(): DatabaseKind[] {
  const kinds: DatabaseKind[] = ['sqlite', 'postgres']
  if (process.env.MONGODB_URI) kinds.push('mongodb')
  return kinds
}
