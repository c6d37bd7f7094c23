// Reading Prometheus' text exposition (what /metrics serves), for the dashboard page in the
// browser and for `imflow demo` in Node: plain JavaScript, so the page needs no build step.

const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/
const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** Every sample of the exposition: name, labels and value (comments and blank lines skipped). */
export function parseMetrics(text) {
  const samples = []
  for (const raw of text.split('\n')) {
    if (raw === '' || raw.startsWith('#')) continue
    const m = line.exec(raw)
    if (!m) continue
    const labels = {}
    for (const [, key, value] of (m[2] ?? '').matchAll(label)) {
      labels[key] = value.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c))
    }
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3])
    samples.push({ name: m[1], labels, value })
  }
  return samples
}

const matches = (sample, name, where) =>
  sample.name === name && Object.entries(where ?? {}).every(([k, v]) => sample.labels[k] === v)

/** True when the exposition has any sample of the metric (a histogram: of its buckets). */
export function has(samples, name) {
  return samples.some((s) => s.name === name || s.name === `${name}_bucket`)
}

/** The sum of a metric's samples whose labels match `where`; undefined when it has none. */
export function total(samples, name, where) {
  let sum
  for (const s of samples) if (matches(s, name, where)) sum = (sum ?? 0) + s.value
  return sum
}

/** The sum of a metric's samples per value of one label. */
export function totalBy(samples, name, by) {
  const out = {}
  for (const s of samples) {
    if (s.name !== name) continue
    const key = s.labels[by] ?? ''
    out[key] = (out[key] ?? 0) + s.value
  }
  return out
}

/** A histogram's cumulative bucket counts (summed over the series matching `where`), by bound. */
export function buckets(samples, name, where) {
  const byBound = new Map()
  for (const s of samples) {
    if (!matches(s, `${name}_bucket`, where)) continue
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le)
    byBound.set(le, (byBound.get(le) ?? 0) + s.value)
  }
  return [...byBound].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le)
}

/** What was observed between two scrapes: the bucket counts' differences. */
export function bucketsBetween(before, after) {
  const old = new Map(before.map((b) => [b.le, b.count]))
  return after.map((b) => ({ le: b.le, count: Math.max(0, b.count - (old.get(b.le) ?? 0)) }))
}

/**
 * The q-quantile of cumulative buckets, interpolated inside the bucket as Prometheus'
 * histogram_quantile does; undefined when nothing was observed.
 */
export function quantile(cumulative, q) {
  const count = cumulative.at(-1)?.count ?? 0
  if (count === 0) return undefined
  const rank = q * count
  let lower = 0
  let below = 0
  for (const b of cumulative) {
    if (b.count >= rank) {
      if (b.le === Infinity) return lower
      const inBucket = b.count - below
      return inBucket === 0 ? b.le : lower + ((b.le - lower) * (rank - below)) / inBucket
    }
    lower = b.le
    below = b.count
  }
  return lower
}
