/** BENCHMARKS.md from the figures: tables, charts and each section's one-sentence reading. */
import type { Chart } from './chart.js'
import type { EditorialRun } from './editorial/bench.js'
import { EFFICIENCY_GOAL, EFFICIENCY_GOAL_MIX, renderEditorial } from './editorial/report.js'
import type { BurstFigures } from './d1-target.js'
import type { InvalidationRow } from './invalidation.js'
import type { CodecRow, KeyRow } from './keys-codec.js'
import type { QueryLatency, Series, WriteLatency } from './latency.js'
import type { LoadResult, WriteMix } from './load.js'
import { MIX_LABEL } from './load.js'
import type { Machine } from './machine.js'
import type { Section } from './markdown.js'
import { renderSection, table } from './markdown.js'
import { mib, ms, percent, perCall, times } from './summary.js'

export interface LoadRun {
  backend: 'Postgres (Node)' | 'D1 (workerd)'
  mix: WriteMix
  strategy: 'stamp' | 'prefix'
  result: LoadResult
}

export interface MemoryRun {
  label: string
  heapBefore?: number
  heapAfter?: number
  footprint?: Record<string, number>
}

export interface Figures {
  machine: Machine
  date: string
  seconds: number
  requests: number
  samples: number
  load: LoadRun[]
  /** Section 1b: the editorial workload, listPrecision off and on. */
  editorial: EditorialRun[]
  latency: QueryLatency[]
  /** Section 2's writes through the eventual and the strong cached instance. */
  writes?: WriteLatency
  keys: KeyRow[]
  codec: CodecRow[]
  invalidation: InvalidationRow[]
  memory: MemoryRun[]
  burst?: BurstFigures
  gc: boolean
}

export const HIT_GOAL = 0.95
export const KEY_GOAL = 0.2

const per1000 = (count: number, requests: number) => ((count / requests) * 1000).toFixed(0)
const hitRatio = (r: LoadResult) => (r.lookups === 0 ? 0 : r.hits / r.lookups)
const meets = (r: LoadResult) => hitRatio(r) >= HIT_GOAL && r.stale === 0

function loadSection(f: Figures, chartPath: string): Section {
  const rows = f.load.map(({ backend, mix, strategy, result: r }) => [
    backend,
    MIX_LABEL[mix],
    strategy,
    `${r.gets} / ${r.writes}`,
    per1000(r.plainReads, r.requests),
    per1000(r.cachedReads, r.requests),
    times(r.plainReads, r.cachedReads),
    `${percent(r.hits, r.lookups)} (${r.hits} of ${r.lookups})`,
    `${r.stale} of ${r.gets}`,
    meets(r) ? 'met' : 'not met',
  ])
  const worst = f.load.filter((run) => run.mix === 'workload')
  const best = f.load.filter((run) => run.mix === 'tenth')
  const range = (runs: LoadRun[]) => {
    const values = runs.map((run) => hitRatio(run.result) * 100)
    return values.length === 0 ? '-' : `${Math.min(...values).toFixed(1)}-${Math.max(...values).toFixed(1)} %`
  }
  const stale = f.load.reduce((sum, run) => sum + run.result.stale, 0)
  const metAny = f.load.some((run) => meets(run.result))
  return {
    title: '1. Database load',
    intro: [
      `The magazine's Zipf-distributed REST workload (\`examples/magazine/src/workload.ts\`: about fifty URLs, a few far more popular than the rest; ${f.requests} requests; ${'`BENCH_REQUESTS`'} changes it), sent to an uncached and a cached Payload over one freshly seeded database: on Postgres through Node HTTP servers (\`examples/postgres\`, embedded Postgres), and on D1 inside workerd through Miniflare's \`dispatchFetch\` (the bench Worker, \`packages/bench/worker\`, built by wrangler from the \`examples/cloudflare-d1\` settings). Each GET goes to both at the same moment, and **every** cached response is compared, deeply and strictly, with the uncached one: a difference counts as a stale read. Writes are editor saves through the cached instance's Local API.`,
      "Database reads are the read calls that reached the adapter under the cache while serving GETs, counted by a wrapper that sits beneath `withKVCache` (the cache's inner adapter is the counting proxy, so a read the cache made on its own behalf would be counted too); the writes' own database calls are the same with and without the cache and are left out. The hit ratio is `hits / (hits + misses + stale entries + bypasses + coalesced)` from `payload.db.kvCache.stats()`, over the same GETs.",
    ].join('\n\n'),
    body: [
      table(
        [
          'backend',
          'write mix',
          'strategy',
          'GETs / writes',
          'DB reads per 1,000 requests, uncached',
          'cached',
          'fewer DB reads',
          'adapter reads from KV',
          'stale reads',
          `goal (≥${HIT_GOAL * 100} % from KV, 0 stale)`,
        ],
        rows,
      ),
      `![Database reads per 1,000 requests, uncached and cached](${chartPath})`,
      `Why the demo mix stays far below the goal: one request in twenty is an edit, and every edit changes a post's \`views\`, which is the sort key of the most popular list (\`sort=-views\`, the top of the Zipf order) and the filter of another (\`views > 250\`): with list precision those lists, and any list showing the edited post, are invalidated because their answer really may change, while lists that neither show the post nor filter or sort on \`views\` (by author, newest first in German) survive. Lists through \`author.name\` read other collections' rows and keep to the collection stamp. The demo (\`pnpm demo\`) counts how many of its GETs answered differently than the last time their URL was asked. The 0.5 % row keeps the same reads and drops nine writes in ten; what it still misses is mostly the first read of each of the ${Math.max(...f.load.map((run) => run.result.distinctPaths))} distinct URLs (with \`depth=1\`, each also populates authors and categories through reads of their own) and one re-read of each URL an edit really changed. A site whose edits are rarer than one request in two hundred, or a run long enough that first reads stop mattering, moves toward the goal; this run does not show that it reaches it.`,
    ],
    interpretation: `Across both databases and both strategies no cached response differed from the uncached one (${stale} stale in total); with the demo's 5 % writes ${range(worst)} of adapter reads came from KV, so the ${HIT_GOAL * 100} % goal is ${worst.some((run) => meets(run.result)) ? 'met' : 'not met'} there, because each edit changes \`views\`, which the most popular lists sort or filter on (with the prefix strategy, every list of \`posts\`), while with 0.5 % writes ${range(best)} came from KV (goal ${best.length > 0 && best.every((run) => meets(run.result)) ? 'met' : metAny ? 'met on some rows' : 'not met'}).`,
  }
}

/** What section 2 is made of: a full run's figures, or those of `BENCH_ONLY=latency`. */
export type LatencyFigures = Pick<Figures, 'machine' | 'samples' | 'latency' | 'writes'>

/** Set when section 2 was written by a run of it alone. */
export interface Alone {
  date: string
  seconds: number
}

export function latencySection(f: LatencyFigures, chartPath: string, alone?: Alone): Section {
  const d = (q: QueryLatency, s: Series) => q.series[s]
  const triple = (q: QueryLatency, s: Series) => `${ms(d(q, s).p50)} / ${ms(d(q, s).p95)} / ${ms(d(q, s).p99)}`
  const local = table(
    ['GET', 'adapter reads', 'uncached p50 / p95 / p99 ms', 'cached p50 / p95 / p99 ms', 'cached ÷ uncached, p50', 'p99'],
    f.latency.map((q) => [
      q.query.name,
      q.reads,
      triple(q, 'plain'),
      triple(q, 'cached'),
      times(d(q, 'cached').p50, d(q, 'plain').p50, 2),
      times(d(q, 'cached').p99, d(q, 'plain').p99, 2),
    ]),
  )
  const model = table(
    ['GET', 'uncached + 20 ms/call, p50 / p95 / p99 ms', 'cached + 20 ms/call, p50 / p95 / p99 ms', 'uncached ÷ cached, p50'],
    f.latency.map((q) => [
      q.query.name,
      triple(q, 'plain-delayed'),
      triple(q, 'cached-delayed'),
      times(d(q, 'plain-delayed').p50, d(q, 'cached-delayed').p50),
    ]),
  )
  const floorOf = (q: QueryLatency) => d(q, 'kv').p50 + d(q, 'memory').p50 - d(q, 'empty').p50
  const floor = table(
    [
      'GET',
      'cached p50',
      'bare KV get(s) p50',
      'same request, no database call, p50',
      'empty response p50',
      'floor = KV get + no-DB request − empty',
      'cached ÷ floor',
    ],
    f.latency.map((q) => [
      q.query.name,
      ms(d(q, 'cached').p50),
      ms(d(q, 'kv').p50),
      ms(d(q, 'memory').p50),
      ms(d(q, 'empty').p50),
      ms(floorOf(q)),
      times(d(q, 'cached').p50, floorOf(q), 2),
    ]),
  )
  const calls = (value: number) => (Number.isInteger(value) ? String(value) : value.toFixed(2))
  const strong = table(
    [
      'GET',
      'eventual p50 / p95 / p99 ms',
      'strong p50 / p95 / p99 ms',
      'strong − eventual, p50 ms',
      'strong ÷ eventual, p50',
      'p99',
      'Durable Object calls per read',
    ],
    f.latency.map((q) => [
      q.query.name,
      triple(q, 'cached'),
      triple(q, 'strong'),
      ms(d(q, 'strong').p50 - d(q, 'cached').p50),
      times(d(q, 'strong').p50, d(q, 'cached').p50, 2),
      times(d(q, 'strong').p99, d(q, 'cached').p99, 2),
      calls(q.strongCalls.strong),
    ]),
  )
  const strongModel = table(
    [
      'GET',
      'eventual + 20 ms/call, p50 / p95 / p99 ms',
      'strong + 20 ms/call, p50 / p95 / p99 ms',
      'strong − eventual, p50 ms',
      'uncached ÷ strong, p50',
      'Durable Object calls per read',
    ],
    f.latency.map((q) => [
      q.query.name,
      triple(q, 'cached-delayed'),
      triple(q, 'strong-delayed'),
      ms(d(q, 'strong-delayed').p50 - d(q, 'cached-delayed').p50),
      times(d(q, 'plain-delayed').p50, d(q, 'strong-delayed').p50),
      calls(q.strongCalls['strong-delayed']),
    ]),
  )
  const w = f.writes
  const writes = w
    ? table(
        ["write (a post's `views`, Local API)", 'p50 / p95 / p99 ms', 'Durable Object calls per write'],
        [
          ['eventual', `${ms(w.eventual.p50)} / ${ms(w.eventual.p95)} / ${ms(w.eventual.p99)}`, calls(w.bumps.eventual)],
          ['strong', `${ms(w.strong.p50)} / ${ms(w.strong.p95)} / ${ms(w.strong.p99)}`, calls(w.bumps.strong)],
        ],
      )
    : undefined
  const avg = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length)
  const strongExtra = avg(f.latency.map((q) => d(q, 'strong').p50 - d(q, 'cached').p50))
  const strongExtraP99 = avg(f.latency.map((q) => d(q, 'strong').p99 - d(q, 'cached').p99))
  const strongCallsPerRead = avg(f.latency.map((q) => q.strongCalls.strong))
  const strongModelRatio = avg(f.latency.map((q) => d(q, 'plain-delayed').p50 / d(q, 'strong-delayed').p50))
  // Differences of a few tenths of a millisecond fall either way with noise: say which way they fell.
  const more = (value: number) => (value >= 0 ? `${ms(value)} ms more` : `${ms(-value)} ms less`)
  const strongReading = `a hit of strong scopes took on average ${more(strongExtra)} than an eventual one at p50 (${more(strongExtraP99)} at p99) for ${calls(strongCallsPerRead)} Durable Object calls per read, to an object in the same workerd process (a deployed one is a network round trip away, which this does not show), and still ${strongModelRatio.toFixed(1)}x less time than uncached under the model${w ? `; a strong write made ${calls(w.bumps.strong)} Durable Object calls and took ${more(w.strong.p50 - w.eventual.p50)} at p50 than an eventual one` : ''}`
  const localRatio = avg(f.latency.map((q) => d(q, 'cached').p50 / d(q, 'plain').p50))
  const modelRatio = avg(f.latency.map((q) => d(q, 'plain-delayed').p50 / d(q, 'cached-delayed').p50))
  const floorRatio = avg(f.latency.map((q) => d(q, 'cached').p50 / floorOf(q)))
  return {
    title: '2. Hit latency inside workerd',
    intro: [
      `The bench Worker under Miniflare (workerd ${f.machine.workerd}), one isolate holding several Payload instances over the same local D1 and KV, each GET timed around \`dispatchFetch\` from Node (${f.samples} samples per GET and variant after 20 warm-up rounds, variants rotated round-robin so that noise falls on all alike). "Uncached" is the same Worker and bundle with a Payload whose adapter is not wrapped. Every cached sample was checked to be all KV hits (\`x-kv-cache\` header).`,
      `Local D1 runs in the same workerd process, so its queries cost well under a millisecond; no production database does. The **origin-latency model** (labelled as such: a model, not a measurement) wraps the inner adapter so that every database call first waits 20 ms, for both the uncached and the cached variant.`,
      `The floor: a bare \`KV.get\` of a real entry of the same query inside the Worker (as many sequential gets as the request makes adapter reads), plus the same Payload request with an adapter that answers from memory (no database call), minus one empty Worker response (the \`dispatchFetch\` round trip both include).`,
      `**Strong** is one more cached Payload in the same rotation, whose every collection and global has \`consistency: 'strong'\` with \`strongStamps\` bound to the \`KVCacheStamps\` class the bench Worker exports (README, Strong consistency): each hit also asks a Durable Object for its scopes' tokens, beside its KV lookup. "Eventual" is the cached variant above. Miniflare runs the object in the same workerd process, so its call costs no network; a deployed object lives in one location and a read elsewhere pays the round trip to it. Durable Object calls are \`breakdown().totals.strongReads\` and \`strongBumps\`, read around each request; the writes come after all reads, alternating between the two instances ${w ? `(${w.writes} each, ` : '('}spaced 0.4 s apart so that no stamp meets KV's one write per second).`,
      ...(alone
        ? [
            `This section was written by a run of it alone (\`BENCH_ONLY=latency\`) on ${alone.date}, in ${Math.round(alone.seconds)} s; the machine and the other sections are those of the full run named at the top.`,
          ]
        : []),
    ].join('\n\n'),
    body: [
      'Local D1:',
      local,
      'Origin-latency **model**, 20 ms per database call:',
      model,
      'A hit against its floor:',
      floor,
      'Strong scopes against eventual ones, local D1:',
      strong,
      'Strong scopes against eventual ones, origin-latency **model**, 20 ms per database call:',
      strongModel,
      ...(writes ? ['Writes, local D1:', writes] : []),
      `![p50 latency: uncached, cached, cached with strong scopes](${chartPath})`,
    ],
    interpretation: `Inside workerd a cached GET took on average ${(localRatio * 100).toFixed(0)} % of the uncached time at p50 against a D1 that runs in the same process, and ${modelRatio.toFixed(1)}x less time than uncached once each database call costs 20 ms (model); at ${floorRatio.toFixed(2)}x the floor of a bare KV get plus Payload's own work, ${floorRatio <= 1.25 ? 'the cache adds little beyond the KV read it cannot avoid' : `the cache adds about ${ms(avg(f.latency.map((q) => d(q, 'cached').p50 - floorOf(q))))} ms of its own (key, stamps, decoding) to each hit`}; ${strongReading}.`,
  }
}

/** What section 3 is made of; `alone` when a run of this section alone (`BENCH_ONLY=keys-codec`) wrote it. */
export type KeysCodecFigures = Pick<Figures, 'machine' | 'keys' | 'codec'> & { alone?: { date: string; seconds: number } }

export function keysSection(f: KeysCodecFigures): Section {
  const keyRows = f.keys.map((k) => [
    k.name,
    perCall(k.library),
    perCall(k.canonicalOnly),
    perCall(k.objectHash),
    perCall(k.json),
    times(k.library, k.objectHash, 2),
    k.library / k.objectHash <= KEY_GOAL ? 'met' : 'not met',
    perCall(k.canonicalNativeHash),
    times(k.canonicalNativeHash, k.objectHash, 2),
  ])
  const codecRows = f.codec.map((c) => [
    `${c.documents} documents`,
    `${(c.bytes / 1024).toFixed(0)} KiB`,
    perCall(c.encode),
    perCall(c.jsonStringify),
    times(c.encode, c.jsonStringify),
    perCall(c.decode),
    perCall(c.jsonParse),
    times(c.decode, c.jsonParse),
  ])
  const missed = f.keys.filter((k) => k.library / k.objectHash > KEY_GOAL)
  const worst = Math.max(...f.keys.map((k) => k.library / k.objectHash))
  const hashShare = f.keys.map((k) => 1 - k.canonicalOnly / k.library)
  const fix =
    missed.length === 0
      ? `the goal is met on every argument set (at worst ${worst.toFixed(2)} of object-hash's time)`
      : `the goal is missed on ${missed.map((k) => `"${k.name}"`).join(', ')} (at worst ${worst.toFixed(2)} of object-hash's time), and what would fix it is the hash, not the canonical text: SHA-256 in pure JavaScript (@noble/hashes) is ${(Math.min(...hashShare) * 100).toFixed(0)}-${(Math.max(...hashShare) * 100).toFixed(0)} % of the key's cost, and the same text through a native SHA-256 (WebCrypto's \`crypto.subtle.digest\`, available in workerd and Node, async; \`node:crypto\` here) takes ${Math.max(...f.keys.map((k) => k.canonicalNativeHash / k.objectHash)).toFixed(2)} of object-hash's time at worst`
  return {
    title: '3. Key derivation and value codec',
    intro: `Per-call cost on fixed inputs (\`packages/bench/src/fixtures.ts\`): three argument objects as Payload hands them to an adapter (access control merged into \`where\`, a \`req\` the key leaves out), and \`find\` result pages of 10 and 100 posts, each with a Lexical rich-text body and the \`undefined\` keys drizzle emits. The library's built code (\`dist/\`) is timed: \`argumentsDigest\` (keys.ts: canonical text, then SHA-256) and \`encodeEnvelope\` / \`decodeEnvelope(...).read()\` (codec.ts). Baselines: object-hash ${f.machine.objectHash} with its defaults (SHA-1, hex, key order ignored) on exactly what the digest covers, and plain \`JSON.stringify\` / \`JSON.parse\`. Every contender is warmed for 300 ms before any is measured, then batches of ~30 ms run round-robin across the contenders of a row; each figure is the median of 11 batches. Node ${f.machine.node}.`,
    body: [
      'Key derivation, per call:',
      table(
        [
          'arguments',
          'library key',
          'of which canonical text',
          'object-hash',
          'JSON.stringify',
          'library ÷ object-hash',
          `goal ≤ ${KEY_GOAL.toFixed(2)}`,
          'what-if: canonical + native SHA-256',
          'what-if ÷ object-hash',
        ],
        keyRows,
      ),
      'Value codec, per call (a fill encodes once; a hit parses and decodes once):',
      table(
        ['result page', 'entry size', 'encodeEnvelope', 'JSON.stringify', 'ratio', 'decodeEnvelope + read', 'JSON.parse', 'ratio'],
        codecRows,
      ),
      ...(f.alone
        ? [
            `This section was written by a run of it alone (\`BENCH_ONLY=keys-codec\`) on ${f.alone.date}, in ${Math.round(f.alone.seconds)} s; the machine and the other sections are those of the full run named at the top.`,
          ]
        : []),
    ],
    interpretation: `Deriving a key costs ${f.keys.map((k) => times(k.library, k.objectHash, 2)).join(', ')} of object-hash's time, so ${fix}; the codec, which keeps \`undefined\`, \`Date\`, \`NaN\` and \`BigInt\` exact, costs ${f.codec.map((c) => times(c.encode, c.jsonStringify)).join(' and ')} of \`JSON.stringify\` to encode and ${f.codec.map((c) => times(c.decode, c.jsonParse)).join(' and ')} of \`JSON.parse\` to decode (10 and 100 documents), ${f.codec.map((c) => `${ms(c.decode / 1e6)} ms`).join(' and ')} per hit.`,
  }
}

/** BENCHMARKS.md with section 3 replaced by `section`, the rest as the last full run wrote it. */
export function spliceKeysCodec(markdown: string, section: string): string {
  const start = markdown.indexOf('\n## 3. ')
  const end = markdown.indexOf('\n## 4. ')
  if (start < 0 || end < start) throw new Error('BENCHMARKS.md has no section 3 followed by section 4: run the full bench once')
  return `${markdown.slice(0, start)}\n${section}\n${markdown.slice(end)}`
}

function invalidationSection(f: Figures): Section {
  const none = new Map(f.invalidation.filter((r) => r.strategy === 'none').map((r) => [r.entries, r]))
  const rows = f.invalidation.map((r) => {
    const base = none.get(r.entries)
    const writes = r.ops.put + r.ops.delete + r.ops.list
    return [
      r.strategy === 'none' ? 'no cache' : r.strategy,
      r.entries.toLocaleString('en-US'),
      r.strategy === 'none' ? '-' : `${writes} (${r.ops.put} put, ${r.ops.delete} delete, ${r.ops.list} list)`,
      r.strategy === 'none' ? '-' : String(r.inlineWriteOps),
      ms(r.returnedMs),
      ms(r.completeMs),
      base && r.strategy !== 'none' ? times(r.returnedMs, base.returnedMs) : '-',
      base && r.strategy !== 'none' ? times(r.completeMs, base.completeMs) : '-',
      r.repeats,
    ]
  })
  const at = (strategy: 'stamp' | 'prefix', n: number) => f.invalidation.find((r) => r.strategy === strategy && r.entries === n)
  const largest = Math.max(...f.invalidation.map((r) => r.entries))
  const stamp = at('stamp', largest)
  const prefix = at('prefix', largest)
  return {
    title: '4. Invalidation cost',
    intro: `One editor save (\`payload.update\` of a post, Local API, Postgres) while the \`posts\` scope holds n cached entries, planted straight into Miniflare's KV under the scope's prefix as \`packages/payload-kv-cache/test/cost.test.ts\` does, counted by a wrapper on the namespace. KV operations are summed from the write's start until \`kvCache.settled()\`; the same write through an uncached Payload on the same database is the baseline. Writes are spaced over a second (KV's one write per second per key). Wall time is the median of the repeats shown; KV here is Miniflare's, reached from Node.`,
    body: [
      table(
        [
          'strategy',
          'entries in scope',
          'KV writes, deletes, lists per write',
          'of them before the write returned',
          'write returned, ms',
          'invalidation complete, ms',
          'returned ÷ no cache',
          'complete ÷ no cache',
          'repeats',
        ],
        rows,
      ),
    ],
    interpretation: `A write under the stamp strategy costs ${stamp ? stamp.ops.put + stamp.ops.delete + stamp.ops.list : '-'} KV writes (the collection's stamp, the document's and one per field the save changed: \`updatedAt\` and the field edited) whatever the scope holds, while the prefix strategy costs one delete per entry plus the list pages (${prefix ? (prefix.ops.put + prefix.ops.delete + prefix.ops.list).toLocaleString('en-US') : '-'} operations at ${largest.toLocaleString('en-US')} entries, ${prefix && stamp ? times(prefix.completeMs, stamp.completeMs, 0) : '-'} the stamp's time to complete), though its budget keeps the write itself from waiting for more than ${prefix ? prefix.inlineWriteOps : '-'} of them.`,
  }
}

function memorySection(f: Figures): Section {
  const mapSummary = (fp?: Record<string, number>) => {
    if (!fp) return '-'
    const nonzero = Object.entries(fp).filter(([, v]) => v !== 0)
    const total = Object.values(fp).reduce((a, b) => a + b, 0)
    return nonzero.length === 0
      ? `all ${Object.keys(fp).length} maps empty`
      : `${total} ${total === 1 ? 'entry' : 'entries'}: ${nonzero.map(([k, v]) => `${k} ${v}`).join(', ')}`
  }
  const rows = f.memory.map((m) => [
    m.label,
    m.heapBefore === undefined ? 'not readable in workerd' : mib(m.heapBefore),
    m.heapAfter === undefined ? '-' : mib(m.heapAfter),
    m.heapBefore === undefined || m.heapAfter === undefined
      ? '-'
      : `${m.heapAfter >= m.heapBefore ? '+' : ''}${mib(m.heapAfter - m.heapBefore)} (${times(m.heapAfter, m.heapBefore, 2)})`,
    mapSummary(m.footprint),
  ])
  const body = [
    table(
      [
        'run',
        'heap after seeding (after gc)',
        'heap after the workload (after gc)',
        'growth',
        "the engine's maps after the workload (footprint())",
      ],
      rows,
    ),
  ]
  if (f.burst)
    body.push(
      `A burst inside the D1 Worker (stamp): ${f.burst.calls} concurrent \`find\` calls through the Local API, 20 distinct queries on a just-invalidated scope, so each misses and identical ones join the first one's database call. The engine's maps at their fullest (sampled as each database call started): ${mapSummary(f.burst.peak)}; read again by a later request, once the fills (which run through \`waitUntil\`) had landed: ${mapSummary(f.burst.after)}.`,
    )
  body.push(
    "Found by this bench, and fixed: inside workerd, `payload.db.kvCache.invalidate()` called in a request while a trailing stamp write that an earlier request scheduled was still pending never resolved, and workerd cancelled the request as hung (it waited only on another request's work). It now waits with a timer of its own (`keepalive.ts`); the burst above starts right after the workload's last write.",
  )
  if (!f.gc) body.push('**`--expose-gc` was not given: heap figures include garbage.**')
  const growth = f.memory
    .filter((m) => m.heapBefore !== undefined && m.heapAfter !== undefined)
    .map((m) => (m.heapAfter! - m.heapBefore!) / 1024 / 1024)
  const maxMaps = Math.max(0, ...f.memory.map((m) => (m.footprint ? Object.values(m.footprint).reduce((a, b) => a + b, 0) : 0)))
  return {
    title: '5. Memory',
    intro:
      "Heap of the Node process that ran section 1 on Postgres (one isolate holding both the uncached and the cached Payload), read with `--expose-gc` after two full collections, before and after each workload. Inside workerd the heap is not readable from the Worker, so the D1 rows report the engine's map sizes only, read through `payload.db.kvCache.footprint()` over a bench route.",
    body,
    interpretation: `Over ${f.requests} requests a run the heap moved by ${growth.length ? `${Math.min(...growth).toFixed(1)} to ${Math.max(...growth).toFixed(1)} MiB` : 'an amount not measured'} and the engine's per-isolate maps held at most ${maxMaps} entries once work settled${f.burst?.peak ? `, and ${f.burst.peak.flights ?? 0} single-flight entries at the peak of a ${f.burst.calls}-call burst (one per distinct query, not per call)` : ''}, so coalescing, single-flight and transaction state stay bounded rather than growing with traffic.`,
  }
}

export function latencyChart(f: Pick<Figures, 'latency'>): Chart {
  return {
    title: 'GET latency inside workerd, p50 (ms); the +20 ms rows are a model',
    unit: 'ms, p50',
    groups: f.latency.flatMap((q) => [
      {
        label: `${q.query.short}, local D1`,
        bars: [
          { series: 'uncached', value: q.series.plain.p50 },
          { series: 'cached', value: q.series.cached.p50 },
          { series: 'cached, strong', value: q.series.strong.p50 },
        ],
      },
      {
        label: `${q.query.short}, +20 ms/call model`,
        bars: [
          { series: 'uncached', value: q.series['plain-delayed'].p50 },
          { series: 'cached', value: q.series['cached-delayed'].p50 },
          { series: 'cached, strong', value: q.series['strong-delayed'].p50 },
        ],
      },
    ]),
  }
}

export function loadChart(f: Figures): Chart {
  return {
    title: 'Database reads per 1,000 requests (Zipf REST workload)',
    unit: 'database reads per 1,000 requests',
    groups: f.load.map((run) => ({
      label: `${run.backend.split(' ')[0]}, ${run.mix === 'workload' ? '5 %' : '0.5 %'} writes, ${run.strategy}`,
      bars: [
        { series: 'uncached', value: (run.result.plainReads / run.result.requests) * 1000 },
        { series: 'cached', value: (run.result.cachedReads / run.result.requests) * 1000 },
      ],
    })),
  }
}

export function headline(f: Figures): string[] {
  const demo = f.load.filter((run) => run.mix === 'workload' && run.strategy === 'stamp')
  const lines = demo.map(
    (run) =>
      `${run.backend}: ${times(run.result.plainReads, run.result.cachedReads)} fewer database reads, ${percent(run.result.hits, run.result.lookups)} of adapter reads from KV, ${run.result.stale} stale (5 % writes, stamp)`,
  )
  return lines
}

export function render(f: Figures, charts: { load: string; latency: string }): string {
  const m = f.machine
  const head = [
    '# Benchmarks',
    `Written by \`pnpm bench\` (\`packages/bench\`) on ${f.date}, in ${Math.round(f.seconds)} s. Do not edit by hand: run it again.`,
    `**Read the ratios, not the absolute numbers.** This ran on a small ${m.cores}-core machine, which CI and development share; every comparison below is made side by side in the same run (same process, same moment, alternating), so the ratios hold up far better than any single figure.`,
    table(
      ['', ''],
      [
        ['CPU', `${m.cpu}, ${m.cores} cores`],
        ['memory', m.memory],
        ['Node', m.node],
        ['Payload', m.payload],
        ['Miniflare / workerd / wrangler', `${m.miniflare} / ${m.workerd} / ${m.wrangler}`],
        ['requests per workload run (`BENCH_REQUESTS`)', String(f.requests)],
        ['latency samples per GET and variant (`BENCH_SAMPLES`)', String(f.samples)],
      ],
    ),
    'Commands (from the repository root; `pnpm bench` builds the library first):\n\n```sh\nnpx --yes pnpm@10.34.9 install\nnpx --yes pnpm@10.34.9 bench\nBENCH_REQUESTS=300 BENCH_SAMPLES=30 npx --yes pnpm@10.34.9 bench   # a quick run\nBENCH_ONLY=editorial npx --yes pnpm@10.34.9 bench                   # section 1b alone, replaced in place\nBENCH_ONLY=admin npx --yes pnpm@10.34.9 bench                       # section 1c alone (needs chromium), replaced in place\nBENCH_ONLY=latency npx --yes pnpm@10.34.9 bench                     # section 2 alone, replaced in place\nBENCH_ONLY=keys-codec npx --yes pnpm@10.34.9 bench                  # section 3 alone, replaced in place\n```',
    `Goals reported against: at least ${HIT_GOAL * 100} % of adapter reads served from KV with 0 stale (section 1); at least ${EFFICIENCY_GOAL * 100} % efficiency at ${EFFICIENCY_GOAL_MIX * 100} % saves with 0 stale (section 1b: of the repeat GETs whose answer had not changed, the share served with no database read); key derivation at most ${KEY_GOAL === 0.2 ? 'one fifth' : KEY_GOAL} of object-hash's time (section 3).`,
  ].join('\n\n')
  const sections = [
    loadSection(f, charts.load),
    latencySection(f, charts.latency),
    keysSection(f),
    invalidationSection(f),
    memorySection(f),
  ]
  const rendered = sections.map(renderSection)
  // Section 1b, right after section 1, between markers a run of it alone replaces.
  if (f.editorial.length > 0) rendered.splice(1, 0, renderEditorial(f.editorial, { requests: f.requests }))
  return `${head}\n\n${rendered.join('\n\n')}\n`
}

/** Section 2 replaced in place: from its heading to the next section's. */
export function spliceLatency(markdown: string, section: string): string {
  const start = markdown.indexOf('\n## 2. ')
  const end = start < 0 ? -1 : markdown.indexOf('\n## ', start + 1)
  if (start < 0 || end < 0) throw new Error('BENCHMARKS.md has no section 2 to replace: run the whole bench')
  return `${markdown.slice(0, start + 1)}${section}\n${markdown.slice(end)}`
}
