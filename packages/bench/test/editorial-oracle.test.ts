/**
 * Section 1b's efficiency is the figure precision work is judged by: a miscount here (a first
 * request counted, a changed answer taken for unchanged, a population read missed) would
 * move the goal without the cache changing. The figures come from a run; this checks how
 * they are counted and that the report shows them.
 */
import { describe, expect, test } from '@jest/globals'
import type { EditorialRun } from '../src/editorial/bench.js'
import { EDITORIAL_VARIANTS } from '../src/editorial/bench.js'
import type { EditorialGet, Verdict } from '../src/editorial/oracle.js'
import { LastAnswers, compareGets, efficiency } from '../src/editorial/oracle.js'
import { editorialHeadline, renderEditorial } from '../src/editorial/report.js'
import type { EditorialResult, ReadTally } from '../src/editorial/run.js'
import type { ReadName } from '../src/editorial/workload.js'
import { PAGE_TYPES } from '../src/editorial/workload.js'

const get = (request: number, name: ReadName, verdict: Verdict, cachedReads: number, path = `/api/${name}`): EditorialGet => ({
  request,
  path,
  name,
  page: 'list',
  verdict,
  plainReads: 2,
  cachedReads,
  hits: cachedReads === 0 ? 2 : 1,
  lookups: 2,
  stale: false,
})

describe('the oracle: was the answer the same as the last answer to the same URL?', () => {
  test('a first request has no last answer; status and body both make an answer', () => {
    const last = new LastAnswers()
    expect(last.observe('/a', { status: 200, body: { docs: [1] } })).toBe('first')
    expect(last.observe('/a', { status: 200, body: { docs: [1] } })).toBe('unchanged')
    expect(last.observe('/b', { status: 200, body: { docs: [1] } })).toBe('first')
    expect(last.observe('/a', { status: 404, body: { docs: [1] } })).toBe('changed')
    expect(last.observe('/a', { status: 404, body: { docs: [1] } })).toBe('unchanged')
    expect(last.size).toBe(2)
  })

  test('the comparison is with the last answer, not the first: a change back is a change', () => {
    const last = new LastAnswers()
    last.observe('/a', { status: 200, body: { title: 'A' } })
    expect(last.observe('/a', { status: 200, body: { title: 'B' } })).toBe('changed')
    expect(last.observe('/a', { status: 200, body: { title: 'A' } })).toBe('changed')
  })
})

describe('efficiency: of the unchanged repeat GETs, those served with no database read', () => {
  test('first requests and changed answers are left out; any read beneath the cache counts against a GET', () => {
    const e = efficiency([
      get(0, 'home', 'first', 1),
      get(1, 'home', 'unchanged', 0),
      get(2, 'home', 'changed', 1),
      get(3, 'home', 'unchanged', 1),
      // One population read of three adapter reads is still a database read.
      get(4, 'article', 'unchanged', 1),
      get(5, 'article', 'unchanged', 0),
      get(6, 'article', 'unchanged', 0),
    ])
    expect(e.all).toEqual({ unchanged: 5, served: 3 })
    expect(e.byRead.home).toEqual({ unchanged: 2, served: 1 })
    expect(e.byRead.article).toEqual({ unchanged: 3, served: 2 })
    expect(e.byRead.count).toEqual({ unchanged: 0, served: 0 })
  })

  test('two runs of one sequence, GET by GET: gained and lost among the GETs both judge unchanged', () => {
    const before = [
      get(0, 'home', 'first', 1),
      get(1, 'home', 'unchanged', 1),
      get(2, 'home', 'unchanged', 0),
      get(3, 'count', 'changed', 1),
    ]
    const after = [
      get(0, 'home', 'first', 1),
      get(1, 'home', 'unchanged', 0),
      get(2, 'home', 'unchanged', 1),
      get(3, 'count', 'changed', 0),
    ]
    expect(compareGets(before, after)).toEqual({ gained: 1, lost: 1, unmatched: 0 })
    // A different sequence cannot be compared GET by GET, and says so.
    expect(compareGets(before, [get(0, 'home', 'first', 1, '/elsewhere'), get(9, 'home', 'first', 0)]).unmatched).toBe(5)
  })
})

const tally = (gets: number): ReadTally => ({ gets, plainReads: 2 * gets, cachedReads: gets, hits: gets, lookups: 2 * gets })

function run(writeShare: number, variant: number, perGet: EditorialGet[], stale = 0): EditorialRun {
  const result: EditorialResult = {
    writeShare,
    requests: perGet.length,
    gets: perGet.length,
    writes: 0,
    all: tally(perGet.length),
    secondHalf: tally(perGet.length),
    repeats: tally(perGet.length),
    changed: tally(0),
    perGet,
    perWrite: [],
    pages: Object.fromEntries(PAGE_TYPES.map((page) => [page, tally(1)])) as EditorialResult['pages'],
    distinctPaths: 1,
    writeKinds: {},
    writeDb: { reads: 0, writes: 0 },
    kv: { read: { get: 0, put: 0, delete: 0, list: 0 }, write: { get: 0, put: 0, delete: 0, list: 0 } },
    stale,
    staleByPage: {},
    seconds: 1,
  }
  return { backend: 'Postgres (Node)', variant: EDITORIAL_VARIANTS[variant]!, result }
}

describe('the efficiency table of section 1b', () => {
  // 19 of 20 unchanged home GETs served: exactly the goal.
  const atGoal = [get(0, 'home', 'first', 1), ...Array.from({ length: 20 }, (_, i) => get(i + 1, 'home', 'unchanged', i === 0 ? 1 : 0))]
  const below = [get(0, 'home', 'first', 1), get(1, 'home', 'unchanged', 1), get(2, 'count', 'unchanged', 0)]
  const runs = [run(0.05, 0, below), run(0.05, 1, atGoal), run(0.05, 2, atGoal, 1), run(0.2, 1, atGoal)]
  const markdown = renderEditorial(runs, { requests: 21 })
  const lines = markdown.split('\n')
  const header = lines.findIndex((line) => line.includes('| efficiency: unchanged repeat GETs served with no database read |'))
  const oracleRows = lines.slice(header + 2, lines.indexOf('', header))

  test('one row per run: overall with its denominator, each page kind with its own, and the goal at 5 % saves', () => {
    expect(markdown).toContain('| efficiency: unchanged repeat GETs served with no database read | article (GETs) | related (GETs) |')
    expect(markdown).toContain('goal (≥95 % at 5 % saves, 0 stale)')
    expect(oracleRows).toHaveLength(4)
    expect(oracleRows[0]).toContain('| 5 % | stamp, listPrecision off | 50.0 % (1 of 2) | - | - | 0.0 % (1) | - | - | 100.0 % (1) |')
    expect(oracleRows[0]).toMatch(/\| not met \|$/)
    expect(oracleRows[1]).toContain('| 5 % | stamp, listPrecision on | 95.0 % (19 of 20) |')
    expect(oracleRows[1]).toMatch(/\| met \|$/)
    // At the goal, but a stale response fails it.
    expect(oracleRows[2]).toMatch(/\| 5 % \| prefix \| 95\.0 % \(19 of 20\) .*\| not met \|$/)
    // Other mixes show the figure unjudged.
    expect(oracleRows[3]).toMatch(/\| 20 % \| stamp, listPrecision on \| 95\.0 % \(19 of 20\) .*\| - \|$/)
  })

  test('the reading and the headline give the efficiency at 5 % saves', () => {
    expect(markdown).toContain(
      "the oracle's efficiency at 5 % saves (unchanged repeat GETs served with no database read) was 50.0 % with list precision off, 95.0 % with it on and 95.0 % with the prefix strategy, so the 95 % efficiency goal is met on some rows",
    )
    expect(editorialHeadline(runs)[1]).toContain('stamp, listPrecision on: efficiency 95.0 % (19 of 20)')
  })
})
