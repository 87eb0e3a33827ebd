import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { closePayload } from '@pkc/testkit'
import type { CollectionConfig, DatabaseAdapterObj, Payload } from 'payload'
import { buildConfig, getPayload } from 'payload'
import type { KVCacheHandle } from '../src/index.js'
import { withKVCache } from '../src/index.js'
import { withTestHooks } from '../src/internals.js'
import type { Database, DatabaseKind } from './support/app.js'
import type { TestEnv } from './support/env.js'
import { skippingClock } from './support/clock.js'
import { useTestEnv } from './support/env.js'

/*
 * Every path form a `where`, `sort`, join or `findDistinct` can take, resolved the way the
 * adapter resolves it (src/path-fields.ts), and every partition value spelled the way the
 * adapter compares it (src/invalidation/partitions.ts). Each test is a differential through
 * real Payload: the same call through two wrapped isolates sharing one KV and through the
 * plain adapter, strictly equal, before and after a write to the rows the path really reads
 * (a write that changes the database's answer, so a stale entry cannot pass). MongoDB's own
 * rules, which no server here can run, are in test/paths.test.ts and test/partitions.test.ts.
 */

const collections = (): CollectionConfig[] => [
  {
    slug: 'people',
    fields: [
      { name: 'name', type: 'text' },
      // Named like the sub-paths a polymorphic relationship reads from its own rows, and
      // like a locale: after a one-target relationship they are this collection's fields.
      { name: 'value', type: 'number' },
      { name: 'relationTo', type: 'text' },
      { name: 'de', type: 'text' },
    ],
  },
  {
    slug: 'codes',
    fields: [
      { name: 'id', type: 'text' },
      { name: 'label', type: 'text' },
      { name: 'entries', type: 'join', collection: 'entries', on: 'code' },
    ],
  },
  { slug: 'media', upload: { filesRequiredOnCreate: false }, fields: [{ name: 'value', type: 'number' }] },
  {
    slug: 'entries',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'person', type: 'relationship', relationTo: 'people' },
      { name: 'people', type: 'relationship', relationTo: 'people', hasMany: true },
      { name: 'owner', type: 'relationship', relationTo: ['people', 'codes'] },
      { name: 'picture', type: 'upload', relationTo: 'media' },
      { name: 'translated', type: 'relationship', relationTo: 'people', localized: true },
      { name: 'code', type: 'relationship', relationTo: 'codes' },
      { name: 'kind', type: 'select', options: ['a', 'b'] },
      { name: 'meta', type: 'group', fields: [{ name: 'person', type: 'relationship', relationTo: 'people' }] },
      { type: 'tabs', tabs: [{ name: 'seo', fields: [{ name: 'person', type: 'relationship', relationTo: 'people' }] }] },
      { name: 'links', type: 'array', fields: [{ name: 'person', type: 'relationship', relationTo: 'people' }] },
      {
        name: 'layout',
        type: 'blocks',
        blocks: [{ slug: 'ref', fields: [{ name: 'person', type: 'relationship', relationTo: 'people' }] }],
      },
    ],
  },
  {
    // Apart from entries: a virtual field linked to a relationship makes every read of its
    // collection depend on the related one, which would hide the entries' forms.
    slug: 'notes',
    fields: [
      { name: 'person', type: 'relationship', relationTo: 'people' },
      { name: 'personName', type: 'text', virtual: 'person.name' },
    ],
  },
]

function config(db: DatabaseAdapterObj, site: CollectionConfig[]) {
  return buildConfig({
    secret: 'payload-kv-cache-path-forms',
    collections: site,
    localization: { locales: ['en', 'de'], defaultLocale: 'en', fallback: true },
    db,
    telemetry: false,
    typescript: { autoGenerate: false },
    logger: { options: { level: 'error' } },
  })
}

let keys = 0
let prefixes = 0

interface Isolate {
  payload: Payload
  cache: KVCacheHandle
}

/** Two wrapped isolates sharing one KV prefix and one clock, and the plain adapter: what the database says. */
interface Site {
  a: Isolate
  b: Isolate
  plain: Payload
  clock: ReturnType<typeof skippingClock>
}

async function startSite(
  env: TestEnv,
  database: Database,
  site: () => CollectionConfig[],
  adapter = () => database.adapter(),
): Promise<Site> {
  const prefix = `forms${prefixes++}${Date.now().toString(36)}`
  const clock = skippingClock()
  const start = (db: DatabaseAdapterObj) =>
    getPayload({ config: config(db, site()), key: `pkc-forms-${process.pid}-${keys++}`, cron: false })
  const isolate = async (): Promise<Isolate> => {
    const wrapped = withKVCache(adapter(), withTestHooks({ kv: env.kv(), prefix }, { clock }))
    return { payload: await start(wrapped), cache: wrapped.kvCache }
  }
  const a = await isolate()
  const b = await isolate()
  return { a, b, plain: await start(adapter()), clock }
}

async function stopSite(site: Site | undefined): Promise<void> {
  if (!site) return
  for (const isolate of [site.a, site.b]) await isolate.cache.settled()
  for (const payload of [site.a.payload, site.b.payload, site.plain]) await closePayload(payload)
}

type Read = (payload: Payload) => Promise<unknown>

/** The call through both isolates equals the database's answer, strictly; returns that answer. */
async function same(site: Site, read: Read): Promise<unknown> {
  const truth = await read(site.plain)
  for (const isolate of [site.a, site.b]) {
    expect(await read(isolate.payload)).toStrictEqual(truth)
    await isolate.cache.settled()
  }
  return truth
}

/**
 * The differential: the read filled and then served from KV in both isolates, a write through
 * isolate A to the rows the path really reads, and the read again, equal to the database in
 * both. The write must change the database's answer, or a stale entry would pass unseen.
 */
async function differential(site: Site, read: Read, write: (payload: Payload) => Promise<unknown>): Promise<void> {
  const before = await same(site, read)
  const hits = site.b.cache.stats().hits
  await same(site, read)
  expect(site.b.cache.stats().hits).toBeGreaterThan(hits)
  // Every stamp slot free again: the write carries no burst horizon (README, Write bursts),
  // which would send the other isolate to the database whatever the read depends on.
  site.clock.skip(2000)
  await write(site.a.payload)
  await site.a.cache.settled()
  const after = await same(site, read)
  expect(after).not.toStrictEqual(before)
}

/** The first document a read returns: what a write is aimed at to change its answer. */
async function firstDoc(read: Read, payload: Payload): Promise<Record<string, unknown>> {
  return ((await read(payload)) as { docs: Record<string, unknown>[] }).docs[0]!
}

let unique = 1000
/** A value no document holds yet: the write gives it to one, so the list goes from none to some. */
const fresh = () => ++unique

const find =
  (where: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  (payload: Payload) =>
    payload.find({ collection: 'entries', depth: 0, limit: 10, sort: 'title', where, ...extra } as Parameters<Payload['find']>[0])

for (const kind of ['sqlite', 'postgres'] as DatabaseKind[]) {
  describe(`path forms on ${kind}`, () => {
    const env = useTestEnv(kind)
    // Nested, so that its afterAll stops the site before the env's stops the servers.
    describe('through two isolates and the database', () => {
      let site: Site
      let ada: number
      let grace: number
      let picture: number

      beforeAll(async () => {
        site = await startSite(env, await env.newDatabase(), collections)
        const p = site.plain
        const person = async (name: string) =>
          (await p.create({ collection: 'people', data: { name, value: 1, relationTo: 'r', de: 'd' } })).id as number
        ada = await person('Ada')
        grace = await person('Grace')
        for (const [id, label] of [
          ['12-x', 'dashed'],
          ['12', 'twelve'],
        ])
          await p.create({ collection: 'codes', data: { id, label } })
        picture = (await p.create({ collection: 'media', data: { value: 1 } })).id as number
        for (const [i, who] of [ada, grace, ada].entries()) {
          const entry = await p.create({
            collection: 'entries',
            data: {
              title: `Entry ${i}`,
              person: who,
              people: [who],
              owner: { relationTo: 'people', value: who },
              picture,
              translated: who,
              code: i === 0 ? '12-x' : i === 1 ? '12' : null,
              kind: i === 0 ? 'a' : 'b',
              meta: { person: who },
              seo: { person: who },
              links: [{ person: who }],
              layout: [{ blockType: 'ref', person: who }],
            },
          })
          await p.update({ collection: 'entries', id: entry.id, locale: 'de', data: { translated: who === ada ? grace : ada } })
        }
        for (const who of [ada, grace]) await p.create({ collection: 'notes', data: { person: who } })
      })

      afterAll(() => stopSite(site))

      const setPerson = (id: () => number, data: Record<string, unknown>) => (payload: Payload) =>
        payload.update({ collection: 'people', id: id(), data })

      describe('after a one-target relationship, `value` and `relationTo` are fields of the related collection', () => {
        it('where `person.value`', async () => {
          const v = fresh()
          await differential(
            site,
            find({ 'person.value': { equals: v } }),
            setPerson(() => grace, { value: v }),
          )
        })

        it('where `person__value` (the GraphQL spelling)', async () => {
          const v = fresh()
          await differential(
            site,
            find({ person__value: { equals: v } }),
            setPerson(() => grace, { value: v }),
          )
        })

        it('where `person.relationTo`', async () => {
          const v = `r${fresh()}`
          await differential(
            site,
            find({ 'person.relationTo': { equals: v } }),
            setPerson(() => grace, { relationTo: v }),
          )
        })

        it('where `people.value` (hasMany)', async () => {
          const v = fresh()
          await differential(
            site,
            find({ 'people.value': { equals: v } }),
            setPerson(() => ada, { value: v }),
          )
        })

        it('where `picture.value` (an upload)', async () => {
          const v = fresh()
          await differential(site, find({ 'picture.value': { equals: v } }), (payload) =>
            payload.update({ collection: 'media', id: picture, data: { value: v } }),
          )
        })

        it('sort by `person.value`', async () => {
          const read = find({}, { sort: ['person.value', 'title'] })
          const first = (await firstDoc(read, site.plain)).person as number
          await differential(site, read, (payload) => payload.update({ collection: 'people', id: first, data: { value: fresh() } }))
        })

        it('findDistinct of `person.value`', async () => {
          const read = (payload: Payload) =>
            payload.findDistinct({ collection: 'entries', field: 'person.value', sort: 'person.value', limit: 10 })
          await differential(
            site,
            read,
            setPerson(() => ada, { value: fresh() }),
          )
        })
      })

      it('a locale code after a relationship that is not localized is a field of the related collection (`person.de`)', async () => {
        const v = `d${fresh()}`
        await differential(
          site,
          find({ 'person.de': { equals: v } }),
          setPerson(() => ada, { de: v }),
        )
      })

      it('a localized relationship’s own column in one locale (`translated.de`)', async () => {
        const read = find({ 'translated.de': { equals: ada } })
        const moved = (await firstDoc(read, site.plain)).id as number
        await differential(site, read, (payload) =>
          payload.update({ collection: 'entries', id: moved, locale: 'de', data: { translated: grace } }),
        )
      })

      it.each(['meta.person', 'seo.person', 'links.person', 'layout.person'])(
        'through a group, a named tab, an array, a block: `%s.value`',
        async (path) => {
          const v = fresh()
          await differential(
            site,
            find({ [`${path}.value`]: { equals: v } }),
            setPerson(() => ada, { value: v }),
          )
        },
      )

      it('`person.id` is the row’s own column in SQL: a delete of the person nulls it (a foreign key)', async () => {
        const doomed = (await site.plain.create({ collection: 'people', data: { name: 'Doomed' } })).id as number
        await site.plain.create({ collection: 'entries', data: { title: 'Entry of the doomed', person: doomed } })
        await differential(site, find({ 'person.id': { equals: doomed } }), (payload) =>
          payload.delete({ collection: 'people', id: doomed }),
        )
      })

      it('`people.id` (hasMany) is the row’s own `_rels` rows in SQL', async () => {
        const read = find({ 'people.id': { equals: grace } })
        const moved = (await firstDoc(read, site.plain)).id as number
        await differential(site, read, (payload) => payload.update({ collection: 'entries', id: moved, data: { people: [ada] } }))
      })

      it('a polymorphic relationship’s `relationTo` and `value` are its own rows', async () => {
        const read = find({ and: [{ 'owner.relationTo': { equals: 'people' } }, { 'owner.value': { equals: grace } }] })
        const moved = (await firstDoc(read, site.plain)).id as number
        await differential(site, read, (payload) =>
          payload.update({ collection: 'entries', id: moved, data: { owner: { relationTo: 'codes', value: '12' } } }),
        )
      })

      it('a sort by a virtual field linked to a relationship reads the related collection (`personName`)', async () => {
        // Payload 3.87 refuses such a field in a `where`; a sort it rewrites to `person.name`.
        const read = (payload: Payload) => payload.find({ collection: 'notes', depth: 0, limit: 10, sort: ['personName', 'id'] })
        const first = (await firstDoc(read, site.plain)).person as number
        await differential(site, read, (payload) => payload.update({ collection: 'people', id: first, data: { name: `zz${fresh()}` } }))
      })

      it('a join’s own `where` through a relationship of the joined collection', async () => {
        const v = fresh()
        const read = (payload: Payload) =>
          payload.find({
            collection: 'codes',
            depth: 0,
            limit: 10,
            sort: 'id',
            joins: { entries: { where: { 'person.value': { equals: v } } } },
          })
        await differential(
          site,
          read,
          setPerson(() => ada, { value: v }),
        )
      })

      it('a join field in a `where` reads the joined collection (`entries.title` on codes)', async () => {
        const v = `t${fresh()}`
        const read = (payload: Payload) =>
          payload.find({ collection: 'codes', depth: 0, limit: 10, sort: 'id', joins: false, where: { 'entries.title': { equals: v } } })
        const entry = (await firstDoc(find({ code: { equals: '12' } }), site.plain)).id as number
        await differential(site, read, (payload) => payload.update({ collection: 'entries', id: entry, data: { title: v } }))
      })

      describe('partition values spelled as the adapter compares them', () => {
        it('REST’s `null` on a relationship is `IS NULL`: a new document with no value joins the list', async () => {
          await differential(site, find({ code: { equals: 'null' } }), (payload) =>
            payload.create({ collection: 'entries', data: { title: 'No code' } }),
          )
        })

        it('an `in` of a text id also matches the text of its number (`12-x` matches `12`)', async () => {
          await differential(site, find({ code: { in: ['12-x'] } }), (payload) =>
            payload.create({ collection: 'entries', data: { title: 'Coded twelve', code: '12' } }),
          )
        })

        it('a select field is a partition in SQL: a create of another value leaves the list served', async () => {
          const read = find({ kind: { equals: 'a' } })
          const byValue = site.b.cache.breakdown().totals.listsByValue
          await same(site, read)
          expect(site.b.cache.breakdown().totals.listsByValue).toBeGreaterThan(byValue)
          site.clock.skip(2000)
          await site.a.payload.create({ collection: 'entries', data: { title: 'Of kind b', kind: 'b' } })
          await site.a.cache.settled()
          const hits = site.b.cache.stats().hits
          await same(site, read)
          expect(site.b.cache.stats().hits).toBeGreaterThan(hits)
          await differential(site, read, (payload) => payload.create({ collection: 'entries', data: { title: 'Of kind a', kind: 'a' } }))
        })
      })

      if (kind === 'postgres') {
        describe('uuid ids', () => {
          let uuids: Site | undefined
          afterAll(() => stopSite(uuids))

          it('a relationship to uuid ids compares any other text as `IS NULL`: no partition of it', async () => {
            const database = await env.newDatabase()
            const { postgresAdapter } = await import('@payloadcms/db-postgres')
            const small = (): CollectionConfig[] => [
              { slug: 'people', fields: [{ name: 'name', type: 'text' }] },
              { slug: 'entries', fields: [{ name: 'person', type: 'relationship', relationTo: 'people' }] },
            ]
            uuids = await startSite(env, database, small, () =>
              postgresAdapter({ pool: { connectionString: database.connectionString!, max: 5 }, idType: 'uuid' }),
            )
            const person = await uuids.plain.create({ collection: 'people', data: { name: 'Ada' } })
            await uuids.plain.create({ collection: 'entries', data: { person: person.id } })
            // An ObjectId, and a uuid whose variant `uuid.validate` refuses.
            for (const text of ['507f1f77bcf86cd799439011', '11111111-1111-1111-1111-111111111111']) {
              const read = (payload: Payload) =>
                payload.find({ collection: 'entries', depth: 0, limit: 10, where: { person: { equals: text } } })
              await differential(uuids, read, (payload) => payload.create({ collection: 'entries', data: {} }))
            }
          })
        })
      }
    })
  })
}
