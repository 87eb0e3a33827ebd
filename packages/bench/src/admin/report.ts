/**
 * The admin section of BENCHMARKS.md (section 1c), written by `BENCH_ONLY=admin` between its
 * own markers; a full `pnpm bench` keeps it as the last such run wrote it.
 */
import { median } from '@pkc/testkit/stats'
import type { DetailedStats } from 'payload-kv-cache'
import type { Section } from '../markdown.js'
import { renderSection, table } from '../markdown.js'
import { ms, percent, times } from '../summary.js'
import type { AdminRun, AdminVariant, StepSample } from './run.js'
import type { StepKind } from './session.js'
import { SESSION } from './session.js'

export const ADMIN_MARKERS = { start: '<!-- admin:start -->', end: '<!-- admin:end -->' }

const KINDS: readonly StepKind[] = ['admin page', 'editor action', 'front end']
const KIND_LABEL: Record<StepKind, string> = {
  'admin page': 'admin page loads',
  'editor action': 'editor actions (log in, autosave, publish, save draft)',
  'front end': 'front-end page loads (home, post, category)',
}

const sum = (samples: StepSample[], pick: (s: StepSample) => number) => samples.reduce((acc, s) => acc + pick(s), 0)
const mean = (samples: StepSample[], pick: (s: StepSample) => number) =>
  samples.length === 0 ? '-' : (sum(samples, pick) / samples.length).toFixed(1)
const fromKV = (samples: StepSample[]) =>
  percent(
    sum(samples, (s) => s.hits),
    sum(samples, (s) => s.lookups),
  )

export interface AdminMeta {
  date: string
  seconds: number
}

/** The reasons a cached server's read still reached Postgres, from the cache's own counters. */
const REASONS: ReadonlyArray<[keyof DetailedStats, string]> = [
  ['misses', 'missed: no entry yet (the first read of that query)'],
  ['stale', 'stale: a save had changed what the entry depends on'],
  ['bypassesExcluded', 'bypassed: collection not cached'],
  ['bypassesTransaction', 'bypassed: inside a transaction'],
  ['bypassesPending', 'bypassed: a write in flight'],
  ['bypassesRequested', 'bypassed: asked for'],
  ['bypassesBurst', 'bypassed: burst'],
  ['bypassesUnkeyable', 'bypassed: unkeyable'],
]

/** Adapter reads the cache saw for a scope or operation: answered, plus every reason one was not. */
const lookupsIn = (counts: Partial<DetailedStats> | undefined) =>
  (counts?.hits ?? 0) + REASONS.reduce((acc, [name]) => acc + (counts?.[name] ?? 0), 0)

function stepTable(plain: AdminVariant, cached: AdminVariant): string {
  // Steps in session order, each once (a step the session repeats is one row, its count shown).
  const names = [...new Set(SESSION.map((step) => step.name))]
  return table(
    [
      'step',
      'kind',
      'times a session',
      'DB reads per step, uncached',
      'cached, first session (empty KV)',
      'cached, later sessions',
      'fewer DB reads, later sessions',
      'adapter reads from KV, later sessions',
      'median ms, uncached / cached',
    ],
    names.map((name) => {
      const p = plain.samples.filter((s) => s.name === name)
      const c = cached.samples.filter((s) => s.name === name)
      const later = c.filter((s) => s.round > 1)
      const laterPlain = p.filter((s) => s.round > 1)
      return [
        name,
        SESSION.find((step) => step.name === name)!.kind,
        SESSION.filter((step) => step.name === name).length,
        mean(p, (s) => s.dbReads),
        mean(
          c.filter((s) => s.round === 1),
          (s) => s.dbReads,
        ),
        mean(later, (s) => s.dbReads),
        times(
          sum(laterPlain, (s) => s.dbReads),
          sum(later, (s) => s.dbReads),
        ),
        fromKV(later),
        `${ms(median(p.map((s) => s.ms)))} / ${ms(median(c.map((s) => s.ms)))}`,
      ]
    }),
  )
}

function kindTable(plain: AdminVariant, cached: AdminVariant): string {
  const rows = [...KINDS, undefined].map((kind) => {
    const p = plain.samples.filter((s) => kind === undefined || s.kind === kind)
    const c = cached.samples.filter((s) => kind === undefined || s.kind === kind)
    const later = c.filter((s) => s.round > 1)
    return [
      kind ? KIND_LABEL[kind] : '**whole session**',
      mean(p, (s) => s.dbReads),
      mean(c, (s) => s.dbReads),
      times(
        sum(p, (s) => s.dbReads),
        sum(c, (s) => s.dbReads),
      ),
      mean(later, (s) => s.dbReads),
      fromKV(c),
      fromKV(later),
      `${mean(p, (s) => s.dbWrites)} / ${mean(c, (s) => s.dbWrites)}`,
    ]
  })
  return table(
    [
      'what',
      'DB reads per step, uncached',
      'cached',
      'fewer DB reads',
      'cached, later sessions',
      'adapter reads from KV',
      'later sessions',
      'DB writes per step, uncached / cached',
    ],
    rows,
  )
}

/** Per scope: what the cache answered and why the rest reached Postgres. */
function reasonTable(cached: AdminVariant): string {
  const scopes = Object.entries(cached.breakdown?.byScope ?? {})
    .map(([scope, counts]) => ({ scope, counts, lookups: lookupsIn(counts) }))
    .filter((row) => row.lookups > 0)
    .sort((a, b) => b.lookups - a.lookups)
  const shown = REASONS.filter(([name]) => scopes.some((row) => (row.counts[name] ?? 0) > 0))
  return table(
    ['scope', 'adapter reads', 'from KV', ...shown.map(([, label]) => label)],
    scopes.map((row) => [`\`${row.scope}\``, row.lookups, row.counts.hits ?? 0, ...shown.map(([name]) => row.counts[name] ?? 0)]),
  )
}

function operationTable(cached: AdminVariant): string {
  const ops = Object.entries(cached.breakdown?.byOperation ?? {})
    .map(([operation, counts]) => ({ operation, counts, lookups: lookupsIn(counts) }))
    .filter((row) => row.lookups > 0)
    .sort((a, b) => b.lookups - a.lookups)
  const shown = REASONS.filter(([name]) => ops.some((row) => (row.counts[name] ?? 0) > 0))
  return table(
    ['operation', 'adapter reads', 'from KV', ...shown.map(([, label]) => label)],
    ops.map((row) => [`\`${row.operation}\``, row.lookups, row.counts.hits ?? 0, ...shown.map(([name]) => row.counts[name] ?? 0)]),
  )
}

/** Reads that reached Postgres by operation and collection, most frequent uncached first. */
function readsTable(plain: AdminVariant, cached: AdminVariant, limit = 16): string {
  const keys = [...new Set([...Object.keys(plain.readsBy), ...Object.keys(cached.readsBy)])]
  const rows = keys
    .map((key) => ({ key, plain: plain.readsBy[key] ?? 0, cached: cached.readsBy[key] ?? 0 }))
    .sort((a, b) => b.plain - a.plain || b.cached - a.cached)
  const top = rows.slice(0, limit)
  const rest = rows.slice(limit)
  // A read only the cached server made (the cache's own, or one timing brought about) has no ratio.
  const body = top.map((row) => [`\`${row.key}\``, row.plain, row.cached, row.plain === 0 ? '-' : times(row.plain, row.cached)])
  if (rest.length > 0)
    body.push([`${rest.length} others`, rest.reduce((acc, row) => acc + row.plain, 0), rest.reduce((acc, row) => acc + row.cached, 0), ''])
  return table(['operation and collection', 'reads that reached Postgres, uncached', 'cached', 'fewer'], body)
}

function interpretation(run: AdminRun): string {
  const [plain, cached] = run.variants
  const b = cached.breakdown
  if (!b) return 'The cached server reported no breakdown: nothing to read.'
  const t = b.totals
  const dbPlain = sum(plain.samples, (s) => s.dbReads)
  const dbCached = sum(cached.samples, (s) => s.dbReads)
  const allLookups = sum(cached.samples, (s) => s.lookups)
  const byKind = (kind: StepKind) => {
    const p = plain.samples.filter((s) => s.kind === kind)
    const c = cached.samples.filter((s) => s.kind === kind)
    const later = c.filter((s) => s.round > 1)
    return `${mean(p, (s) => s.dbReads)} → ${mean(c, (s) => s.dbReads)}${later.length > 0 ? ` (${mean(later, (s) => s.dbReads)} in later sessions)` : ''}`
  }
  /** How a collection's reads were served: from KV (of how many), or left out. */
  const own = (slug: string) => {
    const scope = b.byScope[`c:${slug}`]
    const all = lookupsIn(scope)
    return (scope?.bypassesExcluded ?? 0) > 0 ? `${all} reads, left out (not cached)` : `${scope?.hits ?? 0} of ${all} reads from KV`
  }
  const opShare = (ops: string[]) => {
    const hits = ops.reduce((acc, op) => acc + (b.byOperation[op]?.hits ?? 0), 0)
    const all = ops.reduce((acc, op) => acc + lookupsIn(b.byOperation[op]), 0)
    return `${hits} of ${all}`
  }
  return [
    `Over ${run.rounds} ${run.rounds === 1 ? 'session' : 'sessions'} per server, the editor's sessions made ${dbPlain} database reads uncached and ${dbCached} cached (${times(dbPlain, dbCached)} fewer); per step, uncached → cached, admin page loads ${byKind('admin page')}, editor actions ${byKind('editor action')}, front-end page loads ${byKind('front end')}; ${fromKV(cached.samples)} of the cached server's adapter reads came from KV.`,
    `The admin's own collections: \`users\` ${own('users')} (every admin request, the admin's own follow-up requests included, reads its user; with the Durable Object bound a strong scope, so a logout or a revoked session is seen at once everywhere), \`payload-preferences\` ${own('payload-preferences')} (read on every admin page: columns, sort, navigation) and \`payload-locked-documents\` ${own('payload-locked-documents')} (document locks, which list and edit views check and an edit takes and refreshes; a strong scope with the binding); reads of collections left out: ${percent(t.bypassesExcluded, allLookups, 0)} of the adapter reads the cached server saw.`,
    `Of the rest, ${t.misses} were first reads of their query (every filter, sort, page and document is a query of its own, and each session works on other posts), ${t.stale} found their entry stale because a save (publish, draft, autosave) had changed what it depends on, and ${t.bypassesTransaction} ran inside the transactions Payload runs saves in on Postgres (where a read may see uncommitted rows)${t.bypassesPending > 0 ? `; ${t.bypassesPending} were bypassed while a write to what they depend on was in flight` : ''}. The versions reads the admin makes for a collection with drafts, \`queryDrafts\` (what its list views read) and \`findVersions\`/\`countVersions\` (the edit view's version history and autosave state), came from KV ${opShare(['queryDrafts'])} and ${opShare(['findVersions', 'countVersions'])} times: they depend on their document's versions, which its own saves and autosaves write, and each session opens posts of its own.`,
  ].join(' ')
}

export function adminSection(run: AdminRun, meta: AdminMeta): Section {
  const [plain, cached] = run.variants
  const b = cached.breakdown?.totals
  const dbCached = sum(cached.samples, (s) => s.dbReads)
  const sessionMedian = (v: AdminVariant) => `${(median(v.sessionMs) / 1000).toFixed(0)} s`
  const share = (n: number) => percent(n, dbCached, 0)
  const intro = [
    `Sections 1 and 1b send REST requests; this one is Payload's admin and the website's front end in a real browser. \`examples/website\` (Next.js 16, \`@payloadcms/next\` 3.87.1, embedded Postgres) is built once (\`next build\`) and served twice by \`next start\` at the same time, each over its own freshly seeded database: once through \`withKVCache\` (Miniflare's KV and the \`KVCacheStamps\` Durable Object as \`strongStamps\`, in one Miniflare Worker; otherwise default options: users and document locks are strong scopes), once on the plain adapter (\`PKC_WEBSITE_CACHE=off\`, the same build). Debian's Chromium, driven by playwright-core, runs the same scripted editor session against each, ${run.rounds} rounds, alternating which server goes first (\`packages/bench/src/admin/session.ts\`): log in, open the posts list, filter it by title, sort it by views, open a post, type a new title (autosave keeps a draft), publish, back to the list, open another post, type and save a draft, back to the list, open a third post, the dashboard, the authors list and an author, the site settings (a global), the posts list and two more of its pages; then an anonymous visitor loads the home page, the published post and its category, twice. Each round works on another topic's posts, as an editor's next session would. There is no think time: a session is its ${SESSION.length} steps back to back (a median of ${sessionMedian(plain)} uncached and ${sessionMedian(cached)} cached, the waits for the browser to go quiet included), where a person would take a few minutes. Pauses would change little but one thing this run does not model: entries older than the cache's TTL (300 s by default) expire between an editor's visits to the same page.`,
    "How it is counted. Both servers count the calls that reach Postgres with the bench's counting wrapper (`counted` from `@pkc/testkit/adapters`), **beneath** `withKVCache` on the cached server and on the plain adapter on the other, and serve the counts with the cache's `stats()` and `breakdown()` at `/api/kv-cache-stats`, which reads nothing from the database. The bench reads them before and after each step, once the browser has had no request in flight for 500 ms, so a step's figures include everything it set off: the page's server render, the admin's follow-up requests (form state, preferences, document locks), autosave. \"Adapter reads from KV\" is `hits / (hits + misses + stale + bypasses + coalesced)` over the step's reads on the cached server. Times are the step's own (until its page or toast is there), medians over all rounds; on a local database a read costs well under a millisecond, so they say little about a remote one.",
    `This section was written by \`BENCH_ONLY=admin\` on ${meta.date}, in ${Math.round(meta.seconds)} s (next build ${run.timings.build === 0 ? 'not run: an earlier build reused' : `${Math.round(run.timings.build! / 1000)} s`}); the machine is the one named at the top.`,
  ]
  const reasons = b
    ? REASONS.filter(([name]) => (b[name] ?? 0) > 0)
        .map(([name, label]) => `${label}: ${b[name]} (${share(b[name] ?? 0)})`)
        .join('; ')
    : '-'
  const beforeImages = b?.beforeImages ?? 0
  return {
    title: '1c. Admin load, measured: an editor session in a browser',
    intro: intro.join('\n\n'),
    body: [
      'Per kind of step, averaged over every step of that kind in every session (later sessions: rounds 2 onwards, with the cache already holding what round 1 read):',
      kindTable(plain, cached),
      'Per step:',
      stepTable(plain, cached),
      `Why the cached server's reads still reached Postgres, from the cache's own counters (\`breakdown()\`, summed over every session; each read counted once under its reason). Of its ${dbCached} database reads: ${reasons}${beforeImages > 0 ? `; and ${beforeImages} ${beforeImages === 1 ? 'read' : 'reads'} of a row before an update, which the cache makes itself for list precision (inside the save's transaction)` : ''}.`,
      'By scope (collection `c:` or global `g:`):',
      reasonTable(cached),
      'By adapter operation:',
      operationTable(cached),
      'Reads that reached Postgres, by operation and collection (the counting wrapper), over every session:',
      readsTable(plain, cached),
    ],
    interpretation: interpretation(run),
  }
}

export const renderAdmin = (run: AdminRun, meta: AdminMeta): string =>
  `${ADMIN_MARKERS.start}\n${renderSection(adminSection(run, meta))}\n${ADMIN_MARKERS.end}`

export function adminHeadline(run: AdminRun): string[] {
  const [plain, cached] = run.variants
  return KINDS.map((kind) => {
    const p = plain.samples.filter((s) => s.kind === kind)
    const c = cached.samples.filter((s) => s.kind === kind)
    return `admin, ${KIND_LABEL[kind]}: ${mean(p, (s) => s.dbReads)} → ${mean(c, (s) => s.dbReads)} database reads per step, ${fromKV(c)} from KV`
  })
}
