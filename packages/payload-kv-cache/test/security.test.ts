import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { closePayload } from '@pkc/testkit'
import type { CollectionConfig, Payload, SanitizedConfig, Where } from 'payload'
import { buildConfig, getPayload, handleEndpoints } from 'payload'
import type { KVCacheHandle, KVNamespaceLike } from '../src/index.js'
import { withKVCache } from '../src/index.js'
import type { Database } from './support/app.js'
import { useTestEnv } from './support/env.js'
import type { CallLog } from './support/spy.js'
import { spyOnDatabase } from './support/spy.js'

/**
 * Security through Payload's REST API (`handleEndpoints`, as a Next.js route or a Worker
 * serves it): the cache must never hand one caller what Payload would not show them. Every
 * response through the cached site is compared with the same request, with the same
 * credentials, through an uncached site on the same database.
 */
const env = useTestEnv('sqlite')

const HEADER_SECRET = 'hdr-3c1f9a77-secret'
const PASSWORD = 'pw-Correct-Horse-9'

type Role = 'editor' | 'reader'
interface User {
  id: number | string
  role: Role
}

const collections = (): CollectionConfig[] => [
  {
    slug: 'users',
    auth: { maxLoginAttempts: 2, lockTime: 600_000 },
    fields: [{ name: 'role', type: 'select', options: ['editor', 'reader'], required: true, defaultValue: 'reader' }],
  },
  {
    slug: 'articles',
    versions: { drafts: true },
    access: {
      // Editors see everything; readers their own published articles and the public ones;
      // anonymous callers the public published ones.
      read: ({ req }): Where | boolean => {
        const user = req.user as unknown as User | null
        if (user?.role === 'editor') return true
        if (user)
          return { and: [{ _status: { equals: 'published' } }, { or: [{ owner: { equals: user.id } }, { public: { equals: true } }] }] }
        return { and: [{ _status: { equals: 'published' } }, { public: { equals: true } }] }
      },
      readVersions: ({ req }) => (req.user as unknown as User | null)?.role === 'editor',
    },
    fields: [
      { name: 'title', type: 'text', localized: true },
      { name: 'public', type: 'checkbox', defaultValue: false },
      { name: 'owner', type: 'relationship', relationTo: 'users' },
    ],
  },
]

let keys = 0

interface Site {
  payload: Payload
  request(
    path: string,
    init?: { token?: string; method?: string; body?: unknown },
  ): Promise<{ status: number; body: Record<string, unknown> }>
}

async function startSite(db: Parameters<typeof buildConfig>[0]['db']): Promise<Site> {
  const key = `pkc-security-${process.pid}-${keys++}`
  const config: Promise<SanitizedConfig> = buildConfig({
    secret: 'payload-kv-cache-security',
    collections: collections(),
    localization: { locales: ['en', 'de'], defaultLocale: 'en', fallback: true },
    db,
    telemetry: false,
    typescript: { autoGenerate: false },
    logger: { options: { level: 'fatal' } },
  })
  const payload = await getPayload({ config, key, cron: false })
  return {
    payload,
    async request(path, init = {}) {
      const headers = new Headers({ 'x-tenant-secret': HEADER_SECRET })
      if (init.token) headers.set('authorization', `JWT ${init.token}`)
      if (init.body !== undefined) headers.set('content-type', 'application/json')
      const request = new Request(`http://localhost/api${path}`, {
        method: init.method ?? 'GET',
        headers,
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      })
      const response = await handleEndpoints({ config, request, payloadInstanceCacheKey: key })
      return { status: response.status, body: (await response.json()) as Record<string, unknown> }
    },
  }
}

describe('security over REST: per-user access, drafts, locales, auth, nothing from req in KV', () => {
  let database: Database
  let cachedSite: Site
  let plainSite: Site
  let cache: KVCacheHandle
  const prefix = 'sec'
  const emails = { editor: 'editor@example.com', a: 'alice@example.com', b: 'bob@example.com' }
  const users: Record<keyof typeof emails, User> = {} as Record<keyof typeof emails, User>
  const tokens: string[] = []
  const ids: Record<string, number | string> = {}

  beforeAll(async () => {
    database = await env.newDatabase()
    const wrapped = withKVCache(database.adapter(), { kv: env.kv(), prefix })
    cache = wrapped.kvCache
    cachedSite = await startSite(wrapped)
    plainSite = await startSite(database.adapter())
    const p = plainSite.payload
    for (const [name, email] of Object.entries(emails) as Array<[keyof typeof emails, string]>) {
      const role: Role = name === 'editor' ? 'editor' : 'reader'
      const user = await p.create({ collection: 'users', data: { email, password: PASSWORD, role } })
      users[name] = { id: user.id, role }
    }
    const article = async (name: string, owner: User, isPublic: boolean) => {
      const doc = await p.create({
        collection: 'articles',
        data: { title: `${name} (en)`, public: isPublic, owner: owner.id, _status: 'published' },
      })
      await p.update({ collection: 'articles', id: doc.id, locale: 'de', data: { title: `${name} (de)` } })
      ids[name] = doc.id
    }
    await article('alice private', users.a, false)
    await article('bob private', users.b, false)
    await article('public one', users.editor, true)
    // Only an English title: German readers get it through the fallback locale.
    ids['english only'] = (
      await p.create({
        collection: 'articles',
        data: { title: 'english only', public: true, owner: users.editor.id, _status: 'published' },
      })
    ).id
  })

  afterAll(async () => {
    await cache.settled()
    await closePayload(cachedSite.payload)
    await closePayload(plainSite.payload)
  })

  async function login(email: string, site: Site = cachedSite): Promise<string> {
    const { status, body } = await site.request('/users/login', { method: 'POST', body: { email, password: PASSWORD } })
    expect(status).toBe(200)
    const token = body.token as string
    tokens.push(token)
    return token
  }

  /** The same GET through both sites: the cached answer must be Payload's uncached one. */
  async function same(path: string, token?: string): Promise<Record<string, unknown>> {
    const cached = await cachedSite.request(path, { token })
    const plain = await plainSite.request(path, { token })
    expect(cached).toStrictEqual(plain)
    return cached.body
  }

  const titles = (body: Record<string, unknown>): string[] =>
    ((body.docs as Array<{ title: string }> | undefined) ?? []).map((doc) => doc.title).sort()

  it('two readers and an anonymous caller asking the same URL each get their own result, never another’s cached one', async () => {
    const alice = await login(emails.a)
    const bob = await login(emails.b)
    const path = '/articles?sort=title&depth=0'
    const before = cache.stats()
    // Alice fills first: Bob and the anonymous caller then ask the very same URL.
    expect(titles(await same(path, alice))).toEqual(['alice private (en)', 'english only', 'public one (en)'])
    await cache.settled()
    expect(titles(await same(path, alice))).toEqual(['alice private (en)', 'english only', 'public one (en)'])
    expect(titles(await same(path, bob))).toEqual(['bob private (en)', 'english only', 'public one (en)'])
    expect(titles(await same(path))).toEqual(['english only', 'public one (en)'])
    await cache.settled()
    expect(titles(await same(path, bob))).toEqual(['bob private (en)', 'english only', 'public one (en)'])
    expect(titles(await same(path))).toEqual(['english only', 'public one (en)'])
    // By id: Bob asking for Alice's article is refused, even after Alice's read filled an entry.
    await same(`/articles/${ids['alice private']}?depth=0`, alice)
    await cache.settled()
    const refused = await same(`/articles/${ids['alice private']}?depth=0`, bob)
    expect(refused.errors).toBeDefined()
    // The cache served repeats: the separation above is not the absence of a cache.
    expect(cache.stats().hits - before.hits).toBeGreaterThanOrEqual(3)
  })

  it('a draft read by an editor is never served to a reader or an anonymous caller', async () => {
    const editor = await login(emails.editor)
    const alice = await login(emails.a)
    await cachedSite.payload.update({ collection: 'articles', id: ids['public one']!, draft: true, data: { title: 'SECRET DRAFT' } })
    for (const path of [
      `/articles/${ids['public one']}?draft=true&depth=0`,
      '/articles?draft=true&sort=title&depth=0',
      `/articles/versions?depth=0&where[parent][equals]=${ids['public one']}`,
    ]) {
      const asEditor = await same(path, editor)
      await cache.settled()
      await same(path, editor)
      const asReader = await same(path, alice)
      const anonymous = await same(path)
      expect(JSON.stringify(asReader)).not.toContain('SECRET DRAFT')
      expect(JSON.stringify(anonymous)).not.toContain('SECRET DRAFT')
      // The draft is there to leak: the editor sees it (versions list it under `version`).
      expect(JSON.stringify(asEditor)).toContain('SECRET DRAFT')
    }
  })

  it('de never answers for en; fallbackLocale is respected', async () => {
    const id = ids['alice private']!
    const alice = await login(emails.a)
    expect((await same(`/articles/${id}?locale=de&depth=0`, alice)).title).toBe('alice private (de)')
    await cache.settled()
    expect((await same(`/articles/${id}?locale=de&depth=0`, alice)).title).toBe('alice private (de)')
    expect((await same(`/articles/${id}?locale=en&depth=0`, alice)).title).toBe('alice private (en)')
    const english = ids['english only']!
    expect((await same(`/articles/${english}?locale=de&depth=0`)).title).toBe('english only')
    await cache.settled()
    expect((await same(`/articles/${english}?locale=de&fallback-locale=none&depth=0`)).title).toBeUndefined()
    expect((await same(`/articles/${english}?locale=de&depth=0`)).title).toBe('english only')
  })

  describe('auth collections are not cached: changes to a session count on the very next request', () => {
    let log: CallLog

    beforeAll(() => {
      log = spyOnDatabase(cachedSite.payload)
    })

    afterAll(() => log.restore())

    const me = async (token: string) => (await cachedSite.request('/users/me', { token })).body.user as { email?: string } | null

    it('logout: the token stops working at once', async () => {
      const token = await login(emails.b)
      expect((await me(token))?.email).toBe(emails.b)
      expect(titles(await same('/articles?sort=title&depth=0', token))).toContain('bob private (en)')
      expect((await cachedSite.request('/users/logout', { method: 'POST', token })).status).toBe(200)
      expect(await me(token)).toBeNull()
      expect(titles(await same('/articles?sort=title&depth=0', token))).not.toContain('bob private (en)')
    })

    it('session revocation on another instance (the uncached one): the next request is anonymous', async () => {
      const token = await login(emails.a)
      expect((await me(token))?.email).toBe(emails.a)
      log.reset()
      expect((await me(token))?.email).toBe(emails.a)
      // Each authenticated request read the user from the database: nothing to go stale.
      expect(log.reads.filter((call) => call.endsWith(':users')).length).toBeGreaterThan(0)
      await plainSite.payload.db.updateOne({ collection: 'users', id: users.a.id, data: { sessions: [] }, returning: false })
      expect(await me(token)).toBeNull()
      expect(titles(await same('/articles?sort=title&depth=0', token))).not.toContain('alice private (en)')
    })

    it('lock-out: after too many failed logins the right password is refused at once', async () => {
      for (let i = 0; i < 2; i++) {
        expect((await cachedSite.request('/users/login', { method: 'POST', body: { email: emails.b, password: 'wrong' } })).status).toBe(
          401,
        )
      }
      const locked = await cachedSite.request('/users/login', { method: 'POST', body: { email: emails.b, password: PASSWORD } })
      expect(locked.status).toBe(401)
      expect(JSON.stringify(locked.body)).toMatch(/locked/i)
    })

    it('no read of the auth collection was answered from KV', async () => {
      const kv = env.kv()
      const listed = await kv.list({ prefix: `${prefix}:c:users:` })
      expect(listed.keys).toEqual([])
    })
  })

  it('nothing from req (tokens, headers, emails, passwords) is written into KV keys or values', async () => {
    await cache.settled()
    const kv: KVNamespaceLike = env.kv()
    const names: string[] = []
    let cursor: string | undefined
    do {
      const page = await kv.list({ prefix: `${prefix}:`, cursor: cursor ?? null })
      names.push(...page.keys.map((key) => key.name))
      cursor = page.list_complete ? undefined : page.cursor
    } while (cursor)
    expect(names.length).toBeGreaterThan(5)
    const values = await Promise.all(names.map((name) => kv.get(name, 'text')))
    const stored = [...names, ...values.map((value) => value ?? '')].join('\n')
    const secrets = [HEADER_SECRET, PASSWORD, ...Object.values(emails), ...tokens, ...tokens.map((token) => token.split('.')[1]!)]
    expect(tokens.length).toBeGreaterThan(3)
    for (const secret of secrets) expect(stored.includes(secret) ? secret : null).toBeNull()
  })
})
