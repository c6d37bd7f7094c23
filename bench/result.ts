// What a benchmark hands back: its printed text, and its figures in a structured form (each
// measured value, and for a comparison the baseline it is measured against and the ratio),
// so the runner can write them as JSON, markdown and a chart.

export interface BenchFigure {
  /** What was measured, e.g. "SendMessage avro" or "receiver + fan-out". */
  label: string
  value: number
  /** e.g. "ops/s", "records/s", "ms p99". */
  unit: string
  /** The baseline's label, when this figure is compared against one. */
  baseline?: string
  /** value / baseline value (for latencies: how many times the baseline's). */
  ratio?: number
}

export interface BenchResult {
  text: string
  figures: BenchFigure[]
}

/** A comparison figure: `value` against `base`, with the ratio computed once, here. */
export function against(
  label: string,
  value: number,
  unit: string,
  base: { label: string; value: number },
): BenchFigure {
  return { label, value, unit, baseline: base.label, ratio: value / base.value }
}

/**
 * A benchmark that still returns plain text: its "= 1.23 x" comparisons become figures, so
 * it is charted too until it reports structured figures itself.
 */
export function fromText(text: string): BenchResult {
  const figures: BenchFigure[] = []
  for (const line of text.split('\n')) {
    const m = /^\s*(.+?)\s{2,}.*?=\s*([\d.]+)\s*x/.exec(line)
    if (m)
      figures.push({ label: m[1] as string, value: Number(m[2]), unit: 'x', ratio: Number(m[2]) })
  }
  return { text, figures }
}
