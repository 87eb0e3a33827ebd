/**
 * The website in a real browser (Debian's chromium, driven by playwright-core): Payload's
 * admin and the front end through `next build` + `next start`, with payload-kv-cache on.
 * The first user is created through the admin and logs in, filters and sorts the posts list,
 * opens a post, publishes an edit, saves a draft, lets autosave keep another and restores a
 * version; a second editor finds a document the first is editing locked; then a post is
 * deleted. The front end must show the published edit at its next load and never the draft
 * or the deleted post, serve its pages from KV on repeat, and render exactly what it renders
 * with the cache off (a last test shows that comparison failing on a write made behind the
 * cache).
 * Screenshots go to test-results/screenshots (not committed).
 *
 * Kept out of `pnpm test` (it builds a Next app, which would take both cores from the suite):
 * `pnpm test:website` from the repository root runs it, and `.ci/run` after the suite.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { mkdirSync } from 'node:fs'
import pg from 'pg'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { freePort, launchChromium, login as loginAt, save as saveWith } from '../src/browser.js'
import { startWebsite, type Website } from '../src/site.js'

const screenshots = new URL('../test-results/screenshots/', import.meta.url).pathname

let site: Website
let browser: Browser
let editor: BrowserContext
let admin: Page
/** Anonymous reader: no admin cookie, so its page loads make no auth reads. */
let reader: BrowserContext
const started = performance.now()

type Stats = Record<'hits' | 'misses' | 'bypasses', number>
const stats = async (): Promise<Stats> => ((await (await fetch(`${site.url}/api/kv-cache-stats`)).json()) as { stats: Stats }).stats

/** The HTTP status of a front-end page, as the anonymous reader loads it. */
async function status(path: string): Promise<number | undefined> {
  const page = await reader.newPage()
  try {
    return (await page.goto(`${site.url}${path}`))?.status()
  } finally {
    await page.close()
  }
}

const login = (page: Page, user: { email: string; password: string }) => loginAt(page, site.url, user)
const save = (page: Page, button: '#action-save' | '#action-save-draft') => saveWith(page, button, `${screenshots}failed-save.png`)

/** The content region (`<main id="content">`) of a front-end page, as the anonymous reader loads it. */
async function content(path: string): Promise<string> {
  const page = await reader.newPage()
  try {
    const response = await page.goto(`${site.url}${path}`)
    expect(response?.status()).toBe(200)
    return await page.locator('#content').innerHTML()
  } finally {
    await page.close()
  }
}

beforeAll(async () => {
  mkdirSync(screenshots, { recursive: true })
  // PKC_WEBSITE_REUSE_BUILD=1 serves the build a previous run left in .next (while working on the test).
  site = await startWebsite({
    mode: process.env.PKC_WEBSITE_REUSE_BUILD === '1' ? 'start' : 'production',
    port: await freePort(),
    seedUsers: false,
  })
  browser = await launchChromium()
  editor = await browser.newContext({ viewport: { width: 1400, height: 900 } })
  reader = await browser.newContext()
  admin = await editor.newPage()
}, 600_000)

afterAll(async () => {
  await browser?.close()
  await site?.stop()
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`
  console.log(
    `website browser test: ${Object.entries(site?.timings ?? {})
      .map(([step, ms]) => `${step} ${seconds(ms)}`)
      .join(', ')}; total ${seconds(performance.now() - started)}`,
  )
}, 60_000)

describe('the website, in Chromium, with the cache on', () => {
  let postPath = ''
  let categoryPath = ''
  /** The title the first published edit gave the post, restored from its version later. */
  let editedTitle = ''

  test('the first user is created through the admin and logs in; a second editor is added', async () => {
    // No user yet: the admin sends its first visitor to create one, and logs them in.
    await admin.goto(`${site.url}/admin`)
    await admin.waitForURL(/\/admin\/create-first-user/)
    await admin.fill('#field-email', site.admin.email)
    await admin.fill('#field-password', site.admin.password)
    await admin.fill('#field-confirm-password', site.admin.password)
    await admin.click('.form-submit > button')
    await admin.waitForURL(`${site.url}/admin`)
    await admin.locator('span[title="Dashboard"]').waitFor()
    // The second editor, created by the first through the REST API with the admin's session.
    const created = await editor.request.post(`${site.url}/api/users`, { data: site.editor })
    expect(created.status()).toBe(201)
    await editor.clearCookies()
    await login(admin, site.admin)
  })

  test('the posts list view filters and sorts', async () => {
    // The query the list view's filter and column sort put in the URL: titles containing
    // "Compilers", most viewed first.
    await admin.goto(`${site.url}/admin/collections/posts?limit=50&sort=-views&where[or][0][and][0][title][like]=Compilers`)
    const rows = admin.locator('.table tbody tr')
    await rows.first().waitFor()
    const titles = await admin.locator('.table tbody tr .cell-title').allInnerTexts()
    // The seed writes 10 posts per topic.
    expect(titles).toHaveLength(10)
    for (const title of titles) expect(title).toContain('Compilers')
    const views = (await admin.locator('.table tbody tr .cell-views').allInnerTexts()).map(Number)
    expect(views).toEqual([...views].sort((a, b) => b - a))
    await admin.screenshot({ path: `${screenshots}admin-list.png`, fullPage: true })
  })

  test('an opened post is the one listed, and its front-end pages are served', async () => {
    // The most viewed published Compilers post (the seed leaves every tenth post a draft).
    const link = admin.locator('.table tbody tr .cell-title a').first()
    const listedTitle = await link.innerText()
    await link.click()
    await admin.waitForURL(/\/admin\/collections\/posts\/\d+/)
    const id = /posts\/(\d+)/.exec(admin.url())![1]!
    await expect(admin.locator('#field-title').inputValue()).resolves.toBe(listedTitle)
    postPath = `/posts/${id}`
    const post = await content(postPath)
    expect(post).toContain(listedTitle)
    categoryPath = /href="(\/categories\/\d+)"/.exec(post)![1]!
  })

  test('a published edit is on the post, home and category pages and in the list view at their next load', async () => {
    const title = `Compilers, edited in the browser ${Date.now()}`
    editedTitle = title
    await admin.fill('#field-title', title)
    await save(admin, '#action-save')
    expect(await content(postPath)).toContain(title)
    expect(await content('/')).toContain(title)
    expect(await content(categoryPath)).toContain(title)
    await admin.goto(`${site.url}/admin/collections/posts?limit=50&sort=-views&where[or][0][and][0][title][like]=Compilers`)
    await admin.locator('.table tbody tr .cell-title', { hasText: title }).waitFor()
  })

  test('a draft save does not reach the front end until it is published', async () => {
    await admin.goto(`${site.url}/admin/collections/posts${postPath.slice('/posts'.length)}`)
    const published = await admin.locator('#field-title').inputValue()
    const draft = `Compilers, a draft ${Date.now()}`
    await admin.fill('#field-title', draft)
    await save(admin, '#action-save-draft')
    for (const path of [postPath, '/', categoryPath]) {
      const html = await content(path)
      expect(html).toContain(published)
      expect(html).not.toContain(draft)
    }
    await save(admin, '#action-save')
    for (const path of [postPath, '/', categoryPath]) expect(await content(path)).toContain(draft)
    await admin.screenshot({ path: `${screenshots}admin-edit.png`, fullPage: true })
  })

  test('autosave keeps an edit as a draft, off the front end until it is published', async () => {
    const id = postPath.slice('/posts/'.length)
    await admin.goto(`${site.url}/admin/collections/posts/${id}`)
    const published = await admin.locator('#field-title').inputValue()
    const typed = `Compilers, autosaved ${Date.now()}`
    await admin.fill('#field-title', typed)
    // No click: autosave writes a draft version within its interval.
    const query = `where[parent][equals]=${id}&where[version.title][equals]=${encodeURIComponent(typed)}&where[version._status][equals]=draft`
    for (let tries = 0; ; tries++) {
      const versions = await editor.request.get(`${site.url}/api/posts/versions?${query}`)
      if (((await versions.json()) as { totalDocs: number }).totalDocs > 0) break
      if (tries > 40) throw new Error('autosave never saved the edit')
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    for (const path of [postPath, '/', categoryPath]) {
      const html = await content(path)
      expect(html).toContain(published)
      expect(html).not.toContain(typed)
    }
    await save(admin, '#action-save')
    for (const path of [postPath, '/', categoryPath]) expect(await content(path)).toContain(typed)
  })

  test('restoring a version publishes it: the front end shows it at the next load', async () => {
    const id = postPath.slice('/posts/'.length)
    const query = `where[parent][equals]=${id}&where[version._status][equals]=published&where[version.title][equals]=${encodeURIComponent(editedTitle)}&sort=-updatedAt&limit=1`
    const versions = (await (await editor.request.get(`${site.url}/api/posts/versions?${query}`)).json()) as { docs: Array<{ id: number }> }
    const version = versions.docs[0]
    expect(version).toBeDefined()
    expect(await content(postPath)).not.toContain(editedTitle)
    await admin.goto(`${site.url}/admin/collections/posts/${id}/versions/${version!.id}`)
    // The button restores as published (`?draft=false`); its menu offers "Restore as draft".
    await admin.locator('.restore-version__restore-as-draft-button').click()
    await admin.locator('button:has-text("Confirm")').click()
    await admin.waitForURL(`${site.url}/admin/collections/posts/${id}`)
    await expect(admin.locator('#field-title').inputValue()).resolves.toBe(editedTitle)
    for (const path of [postPath, '/', categoryPath]) expect(await content(path)).toContain(editedTitle)
  })

  test('two editors: a document one of them is editing is locked for the other', async () => {
    // An author, not the post: posts autosave, and Payload releases an editor's lock at each
    // save (autosaves included) until the next change takes it again.
    const post = (await (await editor.request.get(`${site.url}/api/posts${postPath.slice('/posts'.length)}?depth=0`)).json()) as {
      author: number
    }
    const id = post.author
    const editing = await editor.newPage()
    await editing.goto(`${site.url}/admin/collections/authors/${id}`)
    await editing.fill('#field-name', `${await editing.locator('#field-name').inputValue()} (being edited)`)
    // The admin records the lock through its form-state request a moment after the edit.
    for (let tries = 0; ; tries++) {
      const locks = await editor.request.get(
        `${site.url}/api/payload-locked-documents?where[document.relationTo][equals]=authors&where[document.value][equals]=${id}`,
      )
      if (((await locks.json()) as { totalDocs: number }).totalDocs > 0) break
      if (tries > 40) throw new Error('the admin never locked the author being edited')
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    const second = await browser.newContext({ viewport: { width: 1400, height: 900 } })
    try {
      const other = await second.newPage()
      await login(other, site.editor)
      await other.goto(`${site.url}/admin/collections/authors/${id}`)
      await other.locator('#document-locked-go-back').waitFor()
      await other.screenshot({ path: `${screenshots}admin-locked.png` })
    } finally {
      await second.close()
      // Closed without saving: nothing reaches the front end.
      await editing.close()
    }
    expect(await content(postPath)).not.toContain('(being edited)')
  })

  test('a post deleted in the admin is gone from the front end at the next load', async () => {
    // Another post of the same category, loaded (and so cached) before the delete.
    const victim = /href="(\/posts\/(\d+))">([^<]+)<\/a>/g
    const listed = [...(await content(categoryPath)).matchAll(victim)].find((match) => match[1] !== postPath)!
    const [, path, id, title] = listed as unknown as [string, string, string, string]
    expect(await content(path)).toContain(title)
    expect(await content('/')).toContain(title)
    await admin.goto(`${site.url}/admin/collections/posts/${id}`)
    await admin.locator('.doc-controls__popup').click()
    await admin.locator('.popup__content #action-delete').click()
    await admin.locator('.delete-document #confirm-action').click()
    await admin.waitForURL(/\/admin\/collections\/posts(\?.*)?$/)
    expect(await status(path)).toBe(404)
    expect(await content('/')).not.toContain(title)
    expect(await content(categoryPath)).not.toContain(title)
  })

  test('front-end pages are served from KV on repeat', async () => {
    for (const path of ['/', postPath, categoryPath]) {
      await content(path)
      const before = await stats()
      await content(path)
      const after = await stats()
      // Every read the repeat made was a KV hit: none went to Postgres.
      expect({ path, misses: after.misses - before.misses, bypasses: after.bypasses - before.bypasses }).toEqual({
        path,
        misses: 0,
        bypasses: 0,
      })
      expect(after.hits - before.hits).toBeGreaterThan(0)
    }
    const page = await reader.newPage()
    await page.goto(`${site.url}${postPath}`)
    await page.screenshot({ path: `${screenshots}front-end-post.png`, fullPage: true })
    await page.close()
  })

  test('every front-end page renders the same with the cache off', async () => {
    for (const path of ['/', postPath, categoryPath]) {
      const cached = await content(path)
      const uncached = await content(`${path}?cache=off`)
      expect(uncached).toBe(cached)
    }
  })

  test('the comparison with the cache off catches a write the cache was not told about', async () => {
    // What the two assertions above would see if the cache skipped an invalidation: a write
    // made behind Payload's back (raw SQL) leaves the cached page stale, and its content
    // region no longer equals the uncached render.
    const before = await content(postPath)
    const client = new pg.Client({ connectionString: site.databaseUri })
    await client.connect()
    try {
      await client.query(`UPDATE posts_locales SET title = 'Changed behind the cache' WHERE _parent_id = $1 AND _locale = 'en'`, [
        Number(postPath.slice('/posts/'.length)),
      ])
    } finally {
      await client.end()
    }
    const cached = await content(postPath)
    const uncached = await content(`${postPath}?cache=off`)
    expect(cached).toBe(before)
    expect(uncached).toContain('Changed behind the cache')
    expect(uncached).not.toBe(cached)
  })
})
