import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from '@jest/globals'
import { OPTION_SPEC, optionsTable } from '../src/option-spec.js'

/**
 * The README's options table is written from the option spec (src/option-spec.ts), so the two
 * cannot drift: these tests fail when they differ, and with PKC_WRITE_README=1 (what
 * `pnpm readme:options` sets) the table is rewritten from the spec first.
 */
const README = fileURLToPath(new URL('../../../README.md', import.meta.url))
const HEADER = '| option | default | meaning |'

/** The README's lines and where its options table starts and ends (exclusive). */
function readTable(): { lines: string[]; start: number; end: number } {
  const lines = readFileSync(README, 'utf8').split('\n')
  const start = lines.indexOf(HEADER)
  if (start < 0) throw new Error(`README.md has no line "${HEADER}"`)
  let end = start + 1
  while (lines[end]?.startsWith('|')) end++
  return { lines, start, end }
}

if (process.env.PKC_WRITE_README) {
  const { lines, start, end } = readTable()
  lines.splice(start, end - start, ...optionsTable().split('\n'))
  writeFileSync(README, lines.join('\n'))
}

describe("the README's options table", () => {
  it('lists exactly the spec’s options, in its order, with its defaults', () => {
    const { lines, start, end } = readTable()
    const rows = lines.slice(start + 2, end).map((row) => /^\| `([^`]+)` \| (.*?) \|/.exec(row))
    expect(rows.map((row) => row?.[1])).toEqual(Object.keys(OPTION_SPEC))
    expect(rows.map((row) => row?.[2])).toEqual(Object.values(OPTION_SPEC).map((spec) => spec.shown))
  })

  it('is the table the spec writes, meanings included (PKC_WRITE_README=1 rewrites it)', () => {
    const { lines, start, end } = readTable()
    expect(lines.slice(start, end).join('\n')).toBe(optionsTable())
  })
})
