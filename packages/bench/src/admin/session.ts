/**
 * The scripted editor session: what one editor does in the admin in a couple of minutes,
 * the same steps in the same order on the cached and the uncached website, so that each
 * step's database reads can be compared. Pages are opened by URL where the admin's own
 * controls would write the same URL (the list's filter, sort and pagination), and by
 * clicking where the editor would click (a row of the list, Save, Save Draft).
 *
 * Each round works on another topic's posts (round 1 Compilers, round 2 Databases, ...), as an
 * editor's next session would: the lists and the dashboard are warm in the cache by then,
 * the documents are not.
 */
import { login, openRow as openListRow, save } from 'example-website/browser'
import type { BrowserContext, Page } from 'playwright-core'

/** The magazine's topics (examples/magazine/src/seed.ts): every post's title starts with one. */
const TOPICS = ['Compilers', 'Databases', 'Networks', 'Security', 'Design', 'History']

export type StepKind = 'admin page' | 'editor action' | 'front end'

export interface SessionContext {
  url: string
  user: { email: string; password: string }
  /** The editor's tab. */
  admin: Page
  /** An anonymous visitor: no admin cookie, so its page loads make no auth reads. */
  reader: BrowserContext
  /** 1, 2, ...: picks the topic and the edits' wording. */
  round: number
  /** Set as the steps go: the post published this round, and its category's page. */
  published?: string
  categoryPath?: string
}

export interface Step {
  name: string
  kind: StepKind
  run(session: SessionContext): Promise<void>
}

const topic = (s: SessionContext) => TOPICS[(s.round - 1) % TOPICS.length]!
/** The list filtered on the round's topic, most viewed first: what the filter and a click on the Views column write. */
const sortedList = (s: SessionContext) =>
  `${s.url}/admin/collections/posts?sort=-views&where[or][0][and][0][title][like]=${encodeURIComponent(topic(s))}`

async function open(s: SessionContext, href: string): Promise<void> {
  const response = await s.admin.goto(href)
  if (!response?.ok()) throw new Error(`${href} answered ${response?.status()}`)
}

/** Clicks the n-th title of the list on screen and waits for its edit view. */
const openRow = (s: SessionContext, n: number): Promise<string> => openListRow(s.admin, 'posts', '#field-title', n)

/** Types a new title and waits for the autosave it sets off (a draft version, PATCH ?autosave=true). */
async function retitle(s: SessionContext, suffix: string): Promise<void> {
  const field = s.admin.locator('#field-title')
  const title = (await field.inputValue()).replace(/ · .*$/, '')
  const autosaved = s.admin.waitForResponse(
    (response) => response.request().method() === 'PATCH' && response.url().includes('autosave=true'),
  )
  await field.fill(`${title} · ${suffix} ${s.round}`)
  const response = await autosaved
  if (!response.ok()) throw new Error(`autosave answered ${response.status()}`)
}

/** A front-end page as the anonymous visitor loads it; returns its HTML. */
async function visit(s: SessionContext, path: string): Promise<string> {
  const page = await s.reader.newPage()
  try {
    const response = await page.goto(`${s.url}${path}`)
    if (response?.status() !== 200) throw new Error(`${path} answered ${response?.status()}`)
    return await page.content()
  } finally {
    await page.close()
  }
}

const postPath = (s: SessionContext) => `/posts/${s.published}`

export const SESSION: readonly Step[] = [
  { name: 'log in (the login page, then the dashboard)', kind: 'editor action', run: (s) => login(s.admin, s.url, s.user) },
  { name: 'posts list', kind: 'admin page', run: (s) => open(s, `${s.url}/admin/collections/posts`) },
  {
    name: 'filter the list by title',
    kind: 'admin page',
    run: (s) => open(s, `${s.url}/admin/collections/posts?where[or][0][and][0][title][like]=${encodeURIComponent(topic(s))}`),
  },
  { name: 'sort it by views', kind: 'admin page', run: (s) => open(s, sortedList(s)) },
  {
    name: 'open a post from the list',
    kind: 'admin page',
    run: async (s) => {
      s.published = await openRow(s, 0)
    },
  },
  { name: 'type a title (autosave keeps a draft)', kind: 'editor action', run: (s) => retitle(s, 'edited') },
  { name: 'publish', kind: 'editor action', run: (s) => save(s.admin, '#action-save') },
  { name: 'back to the list', kind: 'admin page', run: (s) => open(s, sortedList(s)) },
  { name: 'open a post from the list', kind: 'admin page', run: (s) => openRow(s, 1).then(() => undefined) },
  // Saved at once, before autosave's interval: after an autosave there is nothing left to
  // save and the admin disables Save Draft.
  {
    name: 'type a title and save a draft',
    kind: 'editor action',
    run: async (s) => {
      const field = s.admin.locator('#field-title')
      await field.fill(`${(await field.inputValue()).replace(/ · .*$/, '')} · draft ${s.round}`)
      await save(s.admin, '#action-save-draft')
    },
  },
  { name: 'back to the list', kind: 'admin page', run: (s) => open(s, sortedList(s)) },
  { name: 'open a post from the list', kind: 'admin page', run: (s) => openRow(s, 2).then(() => undefined) },
  { name: 'dashboard', kind: 'admin page', run: (s) => open(s, `${s.url}/admin`) },
  { name: 'authors list', kind: 'admin page', run: (s) => open(s, `${s.url}/admin/collections/authors`) },
  {
    name: "open an author (the round's)",
    kind: 'admin page',
    run: async (s) => {
      await openListRow(s.admin, 'authors', '#field-name', (s.round - 1) % 5, '.table tbody tr td a')
    },
  },
  { name: 'the site settings (a global)', kind: 'admin page', run: (s) => open(s, `${s.url}/admin/globals/site`) },
  { name: 'posts list', kind: 'admin page', run: (s) => open(s, `${s.url}/admin/collections/posts`) },
  { name: 'next page of the list', kind: 'admin page', run: (s) => open(s, `${s.url}/admin/collections/posts?page=2`) },
  { name: 'next page of the list', kind: 'admin page', run: (s) => open(s, `${s.url}/admin/collections/posts?page=3`) },
  // The visitor after the editor: the published edit must be read again, the rest may be
  // cached; then the same three pages again, as the next visitor sees them.
  { name: 'home page, after the edits', kind: 'front end', run: (s) => visit(s, '/').then(() => undefined) },
  {
    name: 'post page (the one published), after the edits',
    kind: 'front end',
    run: async (s) => {
      const html = await visit(s, postPath(s))
      s.categoryPath = /href="(\/categories\/\d+)"/.exec(html)?.[1]
      if (!s.categoryPath) throw new Error(`${postPath(s)} links to no category`)
    },
  },
  { name: 'category page, after the edits', kind: 'front end', run: (s) => visit(s, s.categoryPath!).then(() => undefined) },
  { name: 'home page, again', kind: 'front end', run: (s) => visit(s, '/').then(() => undefined) },
  { name: 'post page, again', kind: 'front end', run: (s) => visit(s, postPath(s)).then(() => undefined) },
  { name: 'category page, again', kind: 'front end', run: (s) => visit(s, s.categoryPath!).then(() => undefined) },
]
