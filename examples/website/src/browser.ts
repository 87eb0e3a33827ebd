/**
 * Driving the website's admin in Chromium (Debian's, through playwright-core: no browser
 * download): what the browser test and the bench's admin section both do, written once.
 *
 * Every wait is for something a person sees (the dashboard, a field, a toast), never for a
 * navigation event: the admin moves between its views with Next's client router, and a wait
 * for a URL that starts after the router already got there, or for a load event a
 * client-side navigation never fires, times out on a fast machine (issue 20).
 */
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { chromium, type Browser, type Page } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`)
  // No background networking: this machine's closed network refuses it, many connections at a time.
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
  })
}

/** A port nothing listens on now, for a Next server of our own. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

/** Polls `check` until it returns a value other than undefined or false; fails naming `what` past the deadline. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * Resolves once the Payload form holding `selector` is ready to take input: Payload's Form marks
 * itself `data-form-ready` once it is mounted, initialised and not submitting, and its own e2e
 * tests wait for that mark. The admin's pages arrive rendered by the server and show their
 * forms before their script runs; a fill or click before then is lost (issue 20: the first-user
 * form's Create did nothing in one run of five on Chromium 150, idle).
 */
export async function formReady(page: Page, selector: string): Promise<void> {
  await page.locator(`form[data-form-ready="true"]:has(${selector})`).first().waitFor()
}

/** Resolves once the admin's dashboard is on screen: its Collections heading. */
export async function dashboard(page: Page): Promise<void> {
  await page.locator('.dashboard').getByRole('heading', { name: 'Collections' }).waitFor()
}

/** Logs a browser context in through the admin's login form; resolves on the dashboard. */
export async function login(page: Page, url: string, user: { email: string; password: string }): Promise<void> {
  await page.goto(`${url}/admin/login`)
  await formReady(page, 'button[type="submit"]')
  await page.fill('#field-email', user.email)
  await page.fill('#field-password', user.password)
  await page.click('button[type="submit"]')
  await dashboard(page)
}

/**
 * The edit view of one of `collection`'s documents, once it is on screen: `field` shown and
 * the address naming the document. Returns the document's id.
 */
export async function editView(page: Page, collection: string, field: string): Promise<string> {
  await formReady(page, field)
  const pattern = new RegExp(`/admin/collections/${collection}/(\\d+)`)
  return until(`the edit view of ${collection}`, () => pattern.exec(page.url())?.[1])
}

/** Clicks the n-th link of the list view on screen and resolves on the document's edit view, with its id. */
export async function openRow(
  page: Page,
  collection: string,
  field: string,
  n: number,
  link = '.table tbody tr .cell-title a',
): Promise<string> {
  await page.locator(link).nth(n).click()
  return editView(page, collection, field)
}

/** Waits for a toast holding `text`, then closes it so that the next action waits for its own. */
export async function toast(page: Page, text: string): Promise<void> {
  // The toast itself: the container list has no size of its own, so Playwright never sees it visible.
  const item = page.locator('.payload-toast-container li').filter({ hasText: text }).first()
  await item.waitFor()
  // This toast closed, and gone before the next action, which must wait for its own. The
  // click is dispatched to its own close button, not made at the button's place on screen: the
  // toast is still sliding in (never "stable"), and after a delete the confirmation's backdrop
  // is still fading out over it, so a click there closed nothing and the delete test waited a
  // minute for the toast to go (issue 20: two runs of five on Chromium 150, idle).
  await item.locator('button.payload-toast-close-button').dispatchEvent('click')
  await item.waitFor({ state: 'detached' })
}

/**
 * Clicks a save button and waits for Payload's success toast, then closes it so the next save
 * waits for its own. On failure, a screenshot goes to `failureShot` if given.
 */
export async function save(page: Page, button: '#action-save' | '#action-save-draft', failureShot?: string): Promise<void> {
  await page.click(button)
  try {
    await toast(page, 'successfully')
  } catch (error) {
    if (failureShot) await page.screenshot({ path: failureShot, fullPage: true })
    throw error
  }
}
