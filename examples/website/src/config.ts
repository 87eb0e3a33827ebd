import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { magazineCollections, magazineGlobals } from '@pkc-examples/magazine/config'
import type { CollectionConfig, DatabaseAdapterObj } from 'payload'
import { buildConfig } from 'payload'
// Type only: Turbopack does not map './x.js' to x.ts, and the bench (NodeNext) needs the extension.
import type { DatabaseCalls } from './database-calls.js'

/** Printed by `pnpm website`; the browser test logs in with it. A local demo's account, not a secret. */
export const ADMIN_USER = { email: 'admin@example.com', password: 'kv-cache-admin' }
/** A second editor, so that two people can open one document (Payload's document locking). */
export const EDITOR_USER = { email: 'editor@example.com', password: 'kv-cache-editor' }

const dirname = path.dirname(fileURLToPath(import.meta.url))

/** What the admin's list views show: titles rather than ids, and for posts the columns an editor sorts by. */
const listViews: Record<string, CollectionConfig['admin']> = {
  posts: { useAsTitle: 'title', defaultColumns: ['title', 'views', 'author', '_status', 'updatedAt'] },
  authors: { useAsTitle: 'name' },
  categories: { useAsTitle: 'title' },
}

const users: CollectionConfig = {
  slug: 'users',
  // An auth collection: payload-kv-cache never caches it unless opted in (a logout or a
  // revoked session must never be read back stale).
  auth: true,
  admin: { useAsTitle: 'email' },
  fields: [],
}

/**
 * The magazine (the same collections, globals and locales as the other examples) with an
 * admin user collection, Payload's admin at /admin, and an endpoint that shows the cache's
 * counters. `db` is the cached adapter in the Next app and the bare one in the seed;
 * `databaseCalls` gives the counts of the wrapper beneath it, where there is one.
 */
export function websiteConfig(db: DatabaseAdapterObj, databaseCalls: () => DatabaseCalls | null = () => null) {
  return buildConfig({
    secret: process.env.PAYLOAD_SECRET ?? 'payload-kv-cache-website',
    admin: { user: users.slug, importMap: { baseDir: dirname } },
    collections: [
      users,
      ...magazineCollections().map((collection) => ({
        ...collection,
        admin: { ...collection.admin, ...listViews[collection.slug] },
        // Posts autosave drafts as an editor types (as most Payload sites' editors work), and
        // keep the Save Draft button; the magazine's other examples save drafts only when asked.
        ...(collection.slug === 'posts' ? { versions: { drafts: { autosave: { interval: 500, showSaveDraftButton: true } } } } : {}),
      })),
    ],
    globals: magazineGlobals(),
    localization: { locales: ['en', 'de'], defaultLocale: 'en', fallback: true },
    endpoints: [
      {
        // GET /api/kv-cache-stats: this server's cache counters (null with the cache off) and
        // the calls that reached Postgres, read by the browser test to tell pages served from
        // KV from pages read from Postgres, and by the bench's admin section. It reads nothing
        // from the database itself, so reading it between two steps does not count.
        path: '/kv-cache-stats',
        method: 'get',
        handler: (req) =>
          Response.json({
            stats: req.payload.db.kvCache?.stats() ?? null,
            breakdown: req.payload.db.kvCache?.breakdown() ?? null,
            database: databaseCalls(),
          }),
      },
    ],
    db,
    telemetry: false,
    // Types are not generated: the pages read the few fields they show by name.
    typescript: { autoGenerate: false },
    logger: { options: { level: 'warn' } },
  })
}
