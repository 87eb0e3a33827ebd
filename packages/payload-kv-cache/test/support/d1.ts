import { Miniflare } from 'miniflare'

/**
 * Miniflare's D1 (what `wrangler dev` runs), in memory: one database per test pair.
 *
 * Reached through a small Worker over `dispatchFetch`, not through Miniflare's Node proxy of
 * the binding: D1's `prepare()` and `bind()` are synchronous, and the proxy answers those with
 * a blocking fetch on a worker thread that, under a full suite's load, now and then hands a
 * call another call's answer (an assertion inside Miniflare), after which every call fails.
 * The SQL still runs on Miniflare's D1; only statements and results cross as JSON.
 */
export interface D1Pool {
  /** A D1 database no other test has used, as a D1Database binding. */
  next(): Promise<unknown>
  dispose(): Promise<void>
}

/** Databases one test file may create; one workerd process holds them all. */
const DATABASES = 64

const WORKER = `
export default {
  async fetch(request, env) {
    const { db, op, statements, options } = await request.json()
    const d1 = env[db]
    try {
      const prepared = statements.map((s) => d1.prepare(s.sql).bind(...s.params))
      let value
      if (op === 'batch') value = await d1.batch(prepared)
      else if (op === 'exec') value = await d1.exec(statements[0].sql)
      else if (op === 'all') value = await prepared[0].all()
      else if (op === 'run') value = await prepared[0].run()
      else if (op === 'raw') value = await prepared[0].raw(options)
      else if (op === 'first') value = await prepared[0].first(options)
      return Response.json({ ok: true, value: value === undefined ? null : value })
    } catch (error) {
      return Response.json({ ok: false, message: String(error && error.message || error) })
    }
  },
}
`

interface Statement {
  sql: string
  params: unknown[]
}

export async function startD1(): Promise<D1Pool> {
  const names = Array.from({ length: DATABASES }, (_, i) => `D1_${i}`)
  const mf = new Miniflare({ modules: true, script: WORKER, d1Databases: names, cf: false, compatibilityDate: '2026-04-20' })
  await mf.ready
  let used = 0

  const call = async (db: string, op: string, statements: Statement[], options?: unknown): Promise<unknown> => {
    const response = await mf.dispatchFetch('http://d1/', { method: 'POST', body: JSON.stringify({ db, op, statements, options }) })
    const answer = (await response.json()) as { ok: boolean; value?: unknown; message?: string }
    if (!answer.ok) throw new Error(answer.message)
    return answer.value
  }

  const database = (db: string) => {
    const statement = (sql: string, params: unknown[]): Record<string, unknown> => {
      const self: Statement & Record<string, unknown> = {
        sql,
        params,
        bind: (...values: unknown[]) => statement(sql, values),
        all: () => call(db, 'all', [self]),
        run: () => call(db, 'run', [self]),
        raw: (options?: unknown) => call(db, 'raw', [self], options),
        first: (column?: unknown) => call(db, 'first', [self], column),
      }
      return self
    }
    const binding = {
      prepare: (sql: string) => statement(sql, []),
      batch: (statements: Statement[]) =>
        call(
          db,
          'batch',
          statements.map(({ sql, params }) => ({ sql, params })),
        ),
      exec: (sql: string) => call(db, 'exec', [{ sql, params: [] }]),
      // Local D1 has no replicas: a session is the database itself.
      withSession: () => binding,
    }
    return binding
  }

  return {
    async next() {
      if (used >= DATABASES) throw new Error(`more than ${DATABASES} D1 databases in one test file: raise DATABASES in test/support/d1.ts`)
      return database(names[used++]!)
    },
    dispose: () => mf.dispose(),
  }
}
