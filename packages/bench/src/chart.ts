/**
 * Grouped horizontal bar charts as hand-written SVG: no chart library, and the file reads
 * the same on GitHub, in an editor and in a browser.
 */

export interface BarGroup {
  label: string
  bars: Array<{ series: string; value: number }>
}

export interface Chart {
  title: string
  unit: string
  groups: BarGroup[]
  /** One colour per series, in the order series first appear. */
  colours?: string[]
}

const PALETTE = ['#9ca3af', '#2563eb', '#f59e0b', '#10b981', '#ef4444']
const escape = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')

export function barChart(chart: Chart): string {
  const series = [...new Set(chart.groups.flatMap((group) => group.bars.map((bar) => bar.series)))]
  const colours = chart.colours ?? PALETTE
  const colourOf = (name: string) => colours[series.indexOf(name) % colours.length]!
  const max = Math.max(...chart.groups.flatMap((group) => group.bars.map((bar) => bar.value)), 0) || 1
  const labelWidth = 220
  const plotWidth = 460
  const barHeight = 16
  const gap = 4
  const groupGap = 14
  const top = 56
  let y = top
  const parts: string[] = []
  for (const group of chart.groups) {
    const groupHeight = group.bars.length * (barHeight + gap) - gap
    parts.push(`<text x="${labelWidth - 10}" y="${y + groupHeight / 2 + 4}" text-anchor="end" class="label">${escape(group.label)}</text>`)
    for (const bar of group.bars) {
      const width = Math.max(1, (bar.value / max) * plotWidth)
      parts.push(
        `<rect x="${labelWidth}" y="${y}" width="${width.toFixed(1)}" height="${barHeight}" fill="${colourOf(bar.series)}"><title>${escape(`${group.label}, ${bar.series}: ${format(bar.value)} ${chart.unit}`)}</title></rect>`,
      )
      parts.push(`<text x="${(labelWidth + width + 4).toFixed(1)}" y="${y + barHeight - 4}" class="value">${format(bar.value)}</text>`)
      y += barHeight + gap
    }
    y += groupGap - gap
  }
  const legend = series.map(
    (name, i) =>
      `<rect x="${labelWidth + i * 150}" y="30" width="12" height="12" fill="${colourOf(name)}"/><text x="${labelWidth + i * 150 + 16}" y="40" class="label">${escape(name)}</text>`,
  )
  const height = y + 24
  const width = labelWidth + plotWidth + 70
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif">`,
    '<style>.label{font-size:12px;fill:#111}.value{font-size:11px;fill:#333}.title{font-size:14px;font-weight:600;fill:#111}.axis{font-size:11px;fill:#555}</style>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="20" class="title">${escape(chart.title)}</text>`,
    ...legend,
    ...parts,
    `<line x1="${labelWidth}" y1="${top - 4}" x2="${labelWidth}" y2="${y - groupGap + gap + 4}" stroke="#555"/>`,
    `<text x="${labelWidth + plotWidth}" y="${height - 6}" text-anchor="end" class="axis">${escape(chart.unit)}</text>`,
    '</svg>',
    '',
  ].join('\n')
}

function format(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)
}
