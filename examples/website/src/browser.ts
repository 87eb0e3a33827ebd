/**
 * Driving the website's admin in Chromium (Debian's, through playwright-core: no browser
 * download): what the browser test and the bench's admin section both do, written once.
 */
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { chromium, type Browser, type Page } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`)
  return chromium.launch({ executablePath: CHROMIUM })
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

/** Logs a browser context in through the admin's login form; resolves on the dashboard. */
export async function login(page: Page, url: string, user: { email: string; password: string }): Promise<void> {
  await page.goto(`${url}/admin/login`)
  await page.fill('#field-email', user.email)
  await page.fill('#field-password', user.password)
  await page.click('button[type="submit"]')
  await page.waitForURL(`${url}/admin`)
  await page.locator('span[title="Dashboard"]').waitFor()
}

/**
 * Clicks a save button and waits for Payload's success toast, then closes it so the next save
 * waits for its own. On failure, a screenshot goes to `failureShot` if given.
 */
export async function save(page: Page, button: '#action-save' | '#action-save-draft', failureShot?: string): Promise<void> {
  await page.click(button)
  try {
    // The toast itself: the container list has no size of its own, so Playwright never sees it visible.
    await page.locator('.payload-toast-container li').filter({ hasText: 'successfully' }).first().waitFor()
  } catch (error) {
    if (failureShot) await page.screenshot({ path: failureShot, fullPage: true })
    throw error
  }
  // Closed (force: the toast is still sliding in, so never "stable"), and gone before the next
  // save, which must wait for its own toast.
  await page.locator('.payload-toast-container button.payload-toast-close-button').first().click({ force: true })
  await page.locator('.payload-toast-container li').first().waitFor({ state: 'detached' })
}
