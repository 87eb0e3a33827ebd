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
