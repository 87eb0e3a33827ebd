import type { Payload } from 'payload'

/**
 * Closes a Payload so that the process can exit, on every adapter the tests, the bench and the
 * demo run. Payload's destroy() leaves the pool open, and db-postgres keeps one client checked
 * out for good (connect() never releases it), so `pool.end()` would wait forever: end without
 * waiting and absorb the errors the server's shutdown then raises on those clients. Read
 * replicas' pools and SQLite's client are closed too.
 */
export async function closePayload(payload: Payload): Promise<void> {
  const db = payload.db as unknown as {
    pool?: { end(): Promise<void>; on(event: 'error', listener: () => void): void }
    client?: { close?(): void }
    destroy?(): Promise<void>
  }
  const { pool, client } = db
  // Read replicas get pools of their own that only drizzle's wrapper holds.
  const replicas =
    (db as { drizzle?: { $replicas?: { $client?: { end?(): Promise<void>; on?(event: 'error', listener: () => void): void } }[] } }).drizzle
      ?.$replicas ?? []
  await db.destroy?.()
  for (const replica of replicas) {
    replica.$client?.on?.('error', () => undefined)
    void replica.$client?.end?.().catch(() => undefined)
  }
  if (pool) {
    pool.on('error', () => undefined)
    void pool.end().catch(() => undefined)
  }
  try {
    client?.close?.()
  } catch {
    // already closed
  }
}
