/**
 * Next calls register() once when a server starts (never during `next build`): start the KV
 * here, or the first reads would wait for workerd to boot, time out after kvTimeoutMs and go
 * to Postgres uncached.
 */
export async function register() {
  if (process.env.NEXT_RUNTIME === 'nodejs') {
    const { startKV } = await import('./kv')
    await startKV()
  }
}
