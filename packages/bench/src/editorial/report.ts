/**
 * The editorial workload's part of BENCHMARKS.md: section 1b, written by a full `pnpm bench`
 * or alone by `BENCH_ONLY=editorial`, which replaces just this section in the file.
 */
import type { Section } from '../markdown.js'
import { renderSection, splice, table } from '../markdown.js'
import type { Ops } from '../phased-kv.js'
import { totalOps } from '../phased-kv.js'
import { HIT_GOAL } from '../report.js'
import { percent, times } from '../summary.js'
import type { EditorialRun } from './bench.js'
import type { Efficiency } from './oracle.js'
import { compareGets, efficiency, efficiencyShare } from './oracle.js'
import type { ReadTally } from './run.js'
import { PAGE_TYPES, READ_NAMES, WRITE_KINDS } from './workload.js'

/** Around the section, so that a run of this workload alone can replace it in place. */
export const MARKERS = { start: '<!-- editorial:start -->', end: '<!-- editorial:end -->' }

/** The goal precision work is judged by: of the GETs a perfect cache serves with no database read, this share or more, 0 stale. */
export const EFFICIENCY_GOAL = 0.95
/** The save rate the efficiency goal is set at: the rows of other mixes show the figure but are not judged. */
export const EFFICIENCY_GOAL_MIX = 0.05

const share = (t: ReadTally) => (t.lookups === 0 ? 0 : t.hits / t.lookups)
const mix = (s: number) => `${(s * 100).toFixed(s < 0.01 ? 1 : 0)} %`
const per = (count: number, of: number) => (of === 0 ? '-' : (count / of).toFixed(2))
const efficiencyText = (e: Efficiency) => `${percent(e.served, e.unchanged)} (${e.served} of ${e.unchanged})`
const goalText = (run: EditorialRun, value: number) =>
  run.result.writeShare !== EFFICIENCY_GOAL_MIX ? '-' : value >= EFFICIENCY_GOAL && run.result.stale === 0 ? 'met' : 'not met'
const opsText = (ops: Ops, of: number) =>
  of === 0
    ? '-'
    : `${per(totalOps(ops), of)} (${per(ops.get, of)} get, ${per(ops.put, of)} put, ${per(ops.delete, of)} delete, ${per(ops.list, of)} list)`

export interface EditorialMeta {
  requests: number
  /** Set when this section was written by a run of this workload alone. */
  alone?: { date: string; seconds: number }
}

/** Rows of the same backend and mix under listPrecision off and on: equal while the option does nothing. */
function beforeAfter(runs: EditorialRun[]): { lines: string[]; maxDiff: number; at5?: { off: number; on: number } } {
  const lines: string[] = []
  let maxDiff = 0
  let at5: { off: number; on: number } | undefined
  const pairs = new Map<string, { off?: EditorialRun; on?: EditorialRun }>()
  for (const run of runs) {
    if (run.variant.invalidation !== 'stamp') continue
    const key = `${run.backend}, ${mix(run.result.writeShare)} writes`
    const pair = pairs.get(key) ?? {}
    pair[run.variant.listPrecision ? 'on' : 'off'] = run
    pairs.set(key, pair)
  }
  for (const [key, { off, on }] of pairs) {
    if (!off || !on) continue
    const a = off.result
    const b = on.result
    maxDiff = Math.max(maxDiff, Math.abs(share(a.all) - share(b.all)) * 100, Math.abs(share(a.secondHalf) - share(b.secondHalf)) * 100)
    if (a.writeShare === 0.05 && !at5) at5 = { off: share(a.secondHalf) * 100, on: share(b.secondHalf) * 100 }
    const same = a.all.hits === b.all.hits && a.all.lookups === b.all.lookups && a.all.cachedReads === b.all.cachedReads
    const [ea, eb] = [efficiency(a.perGet).all, efficiency(b.perGet).all]
    const byGet = compareGets(a.perGet, b.perGet)
    const oracle = `efficiency ${percent(ea.served, ea.unchanged)} off, ${percent(eb.served, eb.unchanged)} on (GET by GET: ${byGet.gained} served with no database read only with it on, ${byGet.lost} only with it off${byGet.unmatched > 0 ? `; ${byGet.unmatched} GETs did not match, so these two counts are not comparable` : ''})`
    // Stamp puts per save can differ by timing alone (how many saves fall in one second's slots), so they are shown, not compared.
    const stampPuts = `stamp puts per save ${per(a.kv.write.put, a.writes)} off, ${per(b.kv.write.put, b.writes)} on`
    lines.push(
      same
        ? `${key}: identical reads (${a.all.hits} of ${a.all.lookups} from KV, ${a.all.cachedReads} database reads, both); ${oracle}; ${stampPuts}`
        : `${key}: from KV ${percent(a.all.hits, a.all.lookups)} off, ${percent(b.all.hits, b.all.lookups)} on (second half ${percent(a.secondHalf.hits, a.secondHalf.lookups)} → ${percent(b.secondHalf.hits, b.secondHalf.lookups)}); database reads ${a.all.cachedReads} → ${b.all.cachedReads}; ${oracle}; per save ${per(a.writeDb.reads + a.writeDb.writes, a.writes)} → ${per(b.writeDb.reads + b.writeDb.writes, b.writes)} database calls; ${stampPuts}`,
    )
  }
  return { lines, maxDiff, at5 }
}

export function editorialSection(runs: EditorialRun[], meta: EditorialMeta): Section {
  const label = (run: EditorialRun) => [run.backend, mix(run.result.writeShare), run.variant.label]
  const main = table(
    [
      'backend',
      'writes',
      'cache',
      'GETs / saves',
      'distinct URLs',
      'DB reads per GET, uncached',
      'cached',
      'fewer DB reads',
      'adapter reads from KV, whole run',
      'second half (steady state)',
      'fewer DB reads, second half',
      'stale responses',
      `goal (≥${HIT_GOAL * 100} % in steady state, 0 stale)`,
    ],
    runs.map((run) => {
      const r = run.result
      return [
        ...label(run),
        `${r.gets} / ${r.writes}`,
        r.distinctPaths,
        per(r.all.plainReads, r.gets),
        per(r.all.cachedReads, r.gets),
        times(r.all.plainReads, r.all.cachedReads),
        `${percent(r.all.hits, r.all.lookups)} (${r.all.hits} of ${r.all.lookups})`,
        `${percent(r.secondHalf.hits, r.secondHalf.lookups)} (${r.secondHalf.hits} of ${r.secondHalf.lookups})`,
        times(r.secondHalf.plainReads, r.secondHalf.cachedReads),
        `${r.stale} of ${r.gets}`,
        share(r.secondHalf) >= HIT_GOAL && r.stale === 0 ? 'met' : 'not met',
      ]
    }),
  )
  const pages = table(
    ['backend', 'writes', 'cache', ...PAGE_TYPES.map((page) => `${page}: from KV (GETs)`)],
    runs.map((run) => [
      ...label(run),
      ...PAGE_TYPES.map((page) => {
        const t = run.result.pages[page]
        return t.gets === 0 ? '-' : `${percent(t.hits, t.lookups)} (${t.gets})`
      }),
    ]),
  )
  const costs = table(
    [
      'backend',
      'writes',
      'cache',
      'KV operations per GET',
      'KV operations per save',
      'database calls per save (reads + writes)',
      'database reads per GET, cached',
    ],
    runs.map((run) => {
      const r = run.result
      return [
        ...label(run),
        opsText(r.kv.read, r.gets),
        opsText(r.kv.write, r.writes),
        r.writes === 0
          ? '-'
          : `${per(r.writeDb.reads + r.writeDb.writes, r.writes)} (${per(r.writeDb.reads, r.writes)} + ${per(r.writeDb.writes, r.writes)})`,
        per(r.all.cachedReads, r.gets),
      ]
    }),
  )
  // Leaving every URL's first read out shows what a site up long enough sees; of what KV did
  // not answer then, the reads of GETs whose answer had really changed no cache could serve.
  const repeats = table(
    [
      'backend',
      'writes',
      'cache',
      'repeat GETs',
      'adapter reads from KV, repeat GETs',
      'database reads on repeat GETs',
      'of them on GETs whose answer had changed',
      'repeat GETs whose answer had changed',
    ],
    runs.map((run) => {
      const r = run.result
      return [
        ...label(run),
        r.repeats.gets,
        `${percent(r.repeats.hits, r.repeats.lookups)} (${r.repeats.hits} of ${r.repeats.lookups})`,
        r.repeats.cachedReads,
        `${r.changed.cachedReads} (${percent(r.changed.cachedReads, r.repeats.cachedReads)})`,
        `${r.changed.gets} (${percent(r.changed.gets, r.repeats.gets)})`,
      ]
    }),
  )
  const efficiencies = new Map(runs.map((run) => [run, efficiency(run.result.perGet)]))
  const oracleTable = table(
    [
      'backend',
      'writes',
      'cache',
      'efficiency: unchanged repeat GETs served with no database read',
      ...READ_NAMES.map((name) => `${name} (GETs)`),
      `goal (≥${EFFICIENCY_GOAL * 100} % at ${mix(EFFICIENCY_GOAL_MIX)} saves, 0 stale)`,
    ],
    runs.map((run) => {
      const e = efficiencies.get(run)!
      return [
        ...label(run),
        efficiencyText(e.all),
        ...READ_NAMES.map((name) => {
          const k = e.byRead[name]
          return k.unchanged === 0 ? '-' : `${percent(k.served, k.unchanged)} (${k.unchanged})`
        }),
        goalText(run, efficiencyShare(e.all)),
      ]
    }),
  )
  const repeatShare = (filter: (run: EditorialRun) => boolean) => {
    const values = runs.filter((run) => run.result.writeShare === 0.05 && filter(run)).map((run) => share(run.result.repeats) * 100)
    if (values.length === 0) return '-'
    const [low, high] = [Math.min(...values).toFixed(1), Math.max(...values).toFixed(1)]
    return low === high ? `${low} %` : `${low}-${high} %`
  }
  const kinds = new Map<string, number>(WRITE_KINDS.map((kind) => [kind, 0]))
  for (const run of runs.filter((r) => r.backend === runs[0]?.backend && r.variant === runs[0]?.variant))
    for (const [kind, n] of Object.entries(run.result.writeKinds)) kinds.set(kind, (kinds.get(kind) ?? 0) + (n ?? 0))

  const stale = runs.reduce((sum, run) => sum + run.result.stale, 0)
  const at5 = runs.filter((run) => run.result.writeShare === 0.05)
  const steady = (filter: (run: EditorialRun) => boolean) => {
    const values = at5.filter(filter).map((run) => share(run.result.secondHalf) * 100)
    if (values.length === 0) return '-'
    const [low, high] = [Math.min(...values).toFixed(1), Math.max(...values).toFixed(1)]
    return low === high ? `${low} %` : `${low}-${high} %`
  }
  const worstPage = (() => {
    const totals = PAGE_TYPES.map((page) => {
      const sum = at5.reduce(
        (acc, run) => ({ hits: acc.hits + run.result.pages[page].hits, lookups: acc.lookups + run.result.pages[page].lookups }),
        { hits: 0, lookups: 0 },
      )
      return { page, value: sum.lookups === 0 ? 1 : sum.hits / sum.lookups, text: percent(sum.hits, sum.lookups) }
    })
    return totals.sort((a, b) => a.value - b.value).slice(0, 2)
  })()
  const { lines: pairs, maxDiff, at5: pairAt5 } = beforeAfter(runs)
  const allSame = pairs.every((line) => line.includes(': identical reads'))
  const effect = allSame
    ? 'listPrecision off and on gave identical read figures'
    : maxDiff < 1
      ? `listPrecision off and on stayed within ${maxDiff.toFixed(1)} percentage points of each other, which timing alone produces (a fill landing after the next read of its URL, a burst of saves within a second): no effect of the option shows`
      : `list precision moved the steady-state share at 5 % saves from ${pairAt5 ? `${pairAt5.off.toFixed(1)} % to ${pairAt5.on.toFixed(1)} %` : '-'} (first pair; all pairs in the list above)`
  const efficiencyAt5 = (filter: (run: EditorialRun) => boolean) => {
    const values = at5.filter(filter).map((run) => efficiencyShare(efficiencies.get(run)!.all) * 100)
    if (values.length === 0) return '-'
    const [low, high] = [Math.min(...values).toFixed(1), Math.max(...values).toFixed(1)]
    return low === high ? `${low} %` : `${low}-${high} %`
  }
  const efficiencyMet = at5.filter((run) => goalText(run, efficiencyShare(efficiencies.get(run)!.all)) === 'met')
  // Where the "after" variant still reads the database needlessly, pooled over the backends.
  const worstKinds = READ_NAMES.map((name) => {
    const pooled = at5
      .filter((run) => run.variant.invalidation === 'stamp' && run.variant.listPrecision)
      .reduce(
        (acc, run) => {
          const k = efficiencies.get(run)!.byRead[name]
          return { unchanged: acc.unchanged + k.unchanged, served: acc.served + k.served }
        },
        { unchanged: 0, served: 0 },
      )
    return { name, pooled }
  })
    .filter((k) => k.pooled.unchanged > 0)
    .sort((a, b) => efficiencyShare(a.pooled) - efficiencyShare(b.pooled))
    .slice(0, 3)
  const metAt5 = at5.filter((run) => share(run.result.secondHalf) >= HIT_GOAL && run.result.stale === 0)

  const intro = [
    `A second workload: an editorial site of the bench's own (\`packages/bench/src/editorial\`: authors, categories, 200 published posts with drafts and autosave, a header and a footer global; visitors see published posts only, through access control). GETs are article pages (\`/api/posts/:id?depth=1\`, which populates the author and category), the article's related posts (\`select\`, limit 4), the home page (latest 12), category and author lists (newest first, limit 10), counts for pagination (\`/api/posts/count\`), an archive (\`select\`, limit 24, pages 1-8), the two globals, author profiles and the section index, with Zipf popularity (newest posts first). Editors' saves, through the cached instance's Local API: content edits of live posts (40 %), autosave and new drafts (20 %), drafts of live posts (10 %), publishing (8 %), moves between categories (7 %), deletions (5 %), author edits (10 %); the mix and the reason for each share are at the top of \`workload.ts\`. ${meta.requests} requests a run at 0.5 %, 5 % and 20 % saves, each run on a freshly seeded database and an empty cache, the same seeded sequence for every cache variant of a mix, and **every** cached response compared with the uncached one, as in section 1.`,
    'The cache variants: the stamp strategy with `listPrecision: false` (before: every save to a collection invalidates its lists) and `true` (after: lists survive saves that cannot change them), and the prefix strategy. On D1 each run is one bench Worker (SITE=editorial) in Miniflare; on Postgres, two Node HTTP servers over one embedded database.',
    "How it is counted. Database calls are counted by a wrapper that sits **beneath** `withKVCache` (the cache's inner adapter is the counting proxy), so every call anything makes on the inner adapter is counted: Payload's reads that miss or bypass the cache, and any read the cache makes on its own behalf, such as a before image read during a save. Database calls per save are those the save made through the cached instance, its own reads and writes included (on Postgres Payload runs a save in a transaction, whose reads bypass the cache; D1 has none, so a save's reads there may be answered from KV). KV operations are counted by a wrapper on the cached instance's namespace (`src/phased-kv.ts`) and charged to GETs or saves: a `get` to whichever was in flight, a `put` of a cache entry (a fill) to the GETs, a `put` of a stamp and every `delete` and `list` (purges) to the saves; on D1 the fills of a save's own reads are therefore charged to the GETs. The share from KV is `hits / lookups` from `kvCache.stats()` over the GETs; the second half is the requests after the run's midpoint, once the first read of most URLs is behind.",
  ]
  if (meta.alone)
    intro.push(
      `This section was written by a run of this workload alone (\`BENCH_ONLY=editorial\`) on ${meta.alone.date}, in ${Math.round(meta.alone.seconds)} s; the machine and the other sections are those of the full run named at the top.`,
    )
  return {
    title: '1b. Database load: an editorial site, before and after list precision',
    intro: intro.join('\n\n'),
    body: [
      table(
        ['save', 'how many, over the three mixes (the same sequence on every backend and variant)'],
        [...kinds.entries()].map(([kind, n]) => [kind, n]),
      ),
      main,
      "The same runs with every URL's first read left out (a URL requested before in the run): the steady state of a site that has been up long enough, and how much of what KV did not answer then was real change (the uncached answer differed from the last answer to that URL).",
      repeats,
      `**Efficiency**, the figure list precision is judged by. The oracle: a repeat GET whose uncached answer (status and body, compared deeply and strictly) equals the uncached answer to the last request of the same URL in the run could have been served with no database read by a perfect cache that never serves stale data; one whose answer had changed could not, and a URL's first request, which has no last answer, is left out. Efficiency is the share of those unchanged repeat GETs that the cache served with **zero** database reads: no read call reached the adapter beneath \`withKVCache\` while the GET was served (the counting wrapper above). A GET counts only when every adapter read it made came from KV, the population reads included (an article at depth 1 also reads its author and category). The overall cell gives the count of unchanged repeat GETs after "of"; each page kind's cell gives it in brackets. Page kinds are the workload's own: article (a post by id), related, home, category and author (the lists of a category, of an author), count, archive, header and footer (the globals), profile (an author by id), sections (the categories index). The goal, at least ${EFFICIENCY_GOAL * 100} % with 0 stale, is judged on the ${mix(EFFICIENCY_GOAL_MIX)} rows only; the other mixes show the figure unjudged (-).`,
      oracleTable,
      'Per page type, the share of adapter reads answered from KV (GETs of that type in brackets): where the remaining misses are.',
      pages,
      'What a GET and a save cost in KV operations and database calls:',
      costs,
      `Before and after list precision (stamp strategy, same sequence):${pairs.length === 0 ? ' no pair ran.' : ''}`,
      pairs.map((line) => `- ${line}`).join('\n'),
    ],
    interpretation: `${stale === 0 ? 'No cached response differed from the uncached one' : `**${stale} cached responses differed from the uncached ones**`} (${stale} stale over ${runs.length} runs); at 5 % saves ${steady((run) => run.variant.invalidation === 'stamp' && !run.variant.listPrecision)} of adapter reads came from KV in steady state with list precision off, ${steady((run) => run.variant.invalidation === 'stamp' && run.variant.listPrecision)} with it on and ${steady((run) => run.variant.invalidation === 'prefix')} with the prefix strategy, so the ${HIT_GOAL * 100} % goal is ${metAt5.length === at5.length && at5.length > 0 ? 'met' : metAt5.length > 0 ? 'met on some rows' : 'not met'}; leaving every URL's first read out, ${repeatShare((run) => run.variant.invalidation === 'stamp' && !run.variant.listPrecision)} came from KV with list precision off and ${repeatShare((run) => run.variant.invalidation === 'stamp' && run.variant.listPrecision)} with it on; the oracle's efficiency at ${mix(EFFICIENCY_GOAL_MIX)} saves (unchanged repeat GETs served with no database read) was ${efficiencyAt5((run) => run.variant.invalidation === 'stamp' && !run.variant.listPrecision)} with list precision off, ${efficiencyAt5((run) => run.variant.invalidation === 'stamp' && run.variant.listPrecision)} with it on and ${efficiencyAt5((run) => run.variant.invalidation === 'prefix')} with the prefix strategy, so the ${EFFICIENCY_GOAL * 100} % efficiency goal is ${efficiencyMet.length === at5.length && at5.length > 0 ? 'met' : efficiencyMet.length > 0 ? 'met on some rows' : 'not met'}${worstKinds.length > 0 ? `, and with list precision on it was lowest on ${worstKinds.map((k) => `${k.name} (${percent(k.pooled.served, k.pooled.unchanged)} of ${k.pooled.unchanged})`).join(', ')}` : ''}; the fewest hits were on ${worstPage.map((p) => `${p.page} reads (${p.text})`).join(' and ')}, and ${effect}.`,
  }
}

export const renderEditorial = (runs: EditorialRun[], meta: EditorialMeta): string =>
  `${MARKERS.start}\n${renderSection(editorialSection(runs, meta))}\n${MARKERS.end}`

/** BENCHMARKS.md with the editorial section replaced (or, the first time, put after section 1). */
export const spliceEditorial = (markdown: string, section: string): string => splice(markdown, MARKERS, section)

export function editorialHeadline(runs: EditorialRun[]): string[] {
  return runs
    .filter((run) => run.result.writeShare === 0.05)
    .map(
      (run) =>
        `editorial, ${run.backend}, 5 % writes, ${run.variant.label}: efficiency ${efficiencyText(efficiency(run.result.perGet).all)}, ${percent(run.result.all.hits, run.result.all.lookups)} from KV (${percent(run.result.secondHalf.hits, run.result.secondHalf.lookups)} second half), ${times(run.result.all.plainReads, run.result.all.cachedReads)} fewer database reads, ${run.result.stale} stale`,
    )
}
