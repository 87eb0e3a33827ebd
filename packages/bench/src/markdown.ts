/** The pieces BENCHMARKS.md is made of. */

export function table(header: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.map((cell) => String(cell).replaceAll('|', '\\|')).join(' | ')} |`
  return [line(header), `|${header.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n')
}

export interface Section {
  title: string
  /** What was run, before the figures. */
  intro: string
  /** Tables, charts and notes, in order. */
  body: string[]
  /** The one sentence of interpretation every section ends with. */
  interpretation: string
}

export function renderSection(section: Section): string {
  return [`## ${section.title}`, section.intro, ...section.body, `**Reading:** ${section.interpretation}`].join('\n\n')
}

export interface Markers {
  start: string
  end: string
}

/** The section between its markers, markers included; undefined when the file has none. */
export function between(markdown: string, markers: Markers): string | undefined {
  const start = markdown.indexOf(markers.start)
  const end = markdown.indexOf(markers.end)
  return start >= 0 && end > start ? markdown.slice(start, end + markers.end.length) : undefined
}

/**
 * The markdown with the section between `markers` replaced by `section` (markers included),
 * or, the first time, put before section 2: a section run alone (`BENCH_ONLY`) leaves the
 * rest of the file as the last full run wrote it.
 */
export function splice(markdown: string, markers: Markers, section: string): string {
  const start = markdown.indexOf(markers.start)
  const end = markdown.indexOf(markers.end)
  if (start >= 0 && end > start) return markdown.slice(0, start) + section + markdown.slice(end + markers.end.length)
  const next = markdown.indexOf('\n## 2. ')
  if (next >= 0) return `${markdown.slice(0, next)}\n${section}\n${markdown.slice(next)}`
  return `${markdown.trimEnd()}\n\n${section}\n`
}
