/**
 * Sections run alone (`BENCH_ONLY=editorial`, `BENCH_ONLY=admin`) are spliced into
 * BENCHMARKS.md between their markers, and a full run carries section 1c over: a mistake here
 * would silently drop a section's figures from the file.
 */
import { describe, expect, test } from '@jest/globals'
import { between, splice } from '../src/markdown.js'

const markers = { start: '<!-- x:start -->', end: '<!-- x:end -->' }
const file = '# B\n\n## 1. One\n\nfigures\n\n## 2. Two\n\nmore\n'

describe('splicing a section run alone', () => {
  test('the first time, it goes before section 2; the next time, it replaces itself and nothing else', () => {
    const first = splice(file, markers, `${markers.start}\n## 1c. New\n${markers.end}`)
    expect(first).toBe(`# B\n\n## 1. One\n\nfigures\n\n${markers.start}\n## 1c. New\n${markers.end}\n\n## 2. Two\n\nmore\n`)
    const second = splice(first, markers, `${markers.start}\n## 1c. Newer\n${markers.end}`)
    expect(second).toBe(first.replace('## 1c. New\n', '## 1c. Newer\n'))
  })

  test('between() gives back what a full run must carry over, markers included', () => {
    const section = `${markers.start}\n## 1c. New\n${markers.end}`
    expect(between(splice(file, markers, section), markers)).toBe(section)
    expect(between(file, markers)).toBeUndefined()
  })
})
