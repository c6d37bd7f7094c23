// The benchmark report: JSON (everything), markdown (the printed text and a table of the
// figures) and an SVG bar chart of the ratios to each baseline (log scale, 1x marked).

import type { BenchFigure, BenchResult } from './result.js'

export interface BenchRun {
  startedAt: string
  command: string
  /** loadAverage: the 1-minute load when the run started (a busy machine skews the figures). */
  machine: { node: string; platform: string; cpus: number; memoryGb: number; loadAverage?: number }
  results: ({ name: string; seconds: number } & BenchResult)[]
}

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

const num = (v: number) =>
  Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toPrecision(3)

export function markdown(run: BenchRun, chart: string | undefined): string {
  const m = run.machine
  const out = [
    `# Benchmarks, ${run.startedAt}`,
    '',
    `\`${run.command}\` on Node ${m.node}, ${m.platform}, ${m.cpus} CPUs, ${m.memoryGb} GB${m.loadAverage === undefined ? '' : `, load average ${m.loadAverage.toFixed(1)} at the start`}.`,
    'Each ratio is against a baseline measured in the same run on the same machine and broker.',
    ...(chart ? ['', `![ratios to the baselines](${chart})`] : []),
  ]
  for (const r of run.results) {
    out.push('', `## ${r.name} (${r.seconds.toFixed(0)} s)`, '', '```text', r.text, '```')
    if (r.figures.length === 0) continue
    out.push('', '| figure | value | baseline | ratio |', '| --- | ---: | --- | ---: |')
    for (const f of r.figures) {
      out.push(
        `| ${f.label} | ${num(f.value)} ${f.unit} | ${f.baseline ?? ''} | ${f.ratio === undefined ? '' : `${f.ratio.toFixed(2)}x`} |`,
      )
    }
  }
  return `${out.join('\n')}\n`
}

/** Horizontal bars, one per ratio, on a log scale from 0.01x to 1000x, 1x marked. */
export function ratioChart(run: BenchRun): string | undefined {
  const bars = run.results.flatMap((r) =>
    r.figures
      .filter((f): f is BenchFigure & { ratio: number } => f.ratio !== undefined && f.ratio > 0)
      .map((f) => ({ bench: r.name, ...f })),
  )
  if (bars.length === 0) return undefined
  const left = 300
  const width = 760
  const row = 22
  const top = 30
  const height = top + bars.length * row + 24
  const lo = -2
  const hi = Math.max(3, Math.ceil(Math.log10(Math.max(...bars.map((b) => b.ratio)))))
  const x = (ratio: number) =>
    Math.round(
      10 *
        (left +
          ((Math.min(hi, Math.max(lo, Math.log10(ratio))) - lo) / (hi - lo)) * (width - left - 70)),
    ) / 10
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12" role="img" aria-label="Benchmark ratios to their baselines">`,
    `<title>Benchmark ratios to their baselines, ${esc(run.startedAt)}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="18" font-weight="bold">Ratios to each benchmark's own baseline (log scale), ${esc(run.startedAt)}</text>`,
  ]
  for (let power = lo; power <= hi; power++) {
    const tick = 10 ** power
    const at = x(tick)
    parts.push(
      `<line x1="${at}" x2="${at}" y1="${top - 4}" y2="${height - 20}" stroke="${tick === 1 ? '#333' : '#ddd'}"/>`,
      `<text x="${at}" y="${height - 6}" text-anchor="middle" fill="#555">${tick}x</text>`,
    )
  }
  bars.forEach((b, i) => {
    const y = top + i * row
    const from = x(Math.min(1, b.ratio))
    const to = x(Math.max(1, b.ratio))
    parts.push(
      `<text x="${left - 8}" y="${y + 14}" text-anchor="end">${esc(`${b.bench}: ${b.label}`)}</text>`,
      `<rect x="${from}" y="${y + 3}" width="${Math.max(1, to - from)}" height="${row - 8}" fill="${b.ratio >= 1 ? '#4f8ef7' : '#f2a33a'}"/>`,
      `<text x="${to + 4}" y="${y + 14}">${b.ratio.toFixed(2)}x</text>`,
    )
  })
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}
