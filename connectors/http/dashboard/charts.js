// Inline SVG line charts for the dashboard: one function, no library, redrawn at each poll.

const NS = 'http://www.w3.org/2000/svg'
const W = 400
const H = 130
const PAD = { left: 44, right: 8, top: 8, bottom: 18 }
export const palette = ['#4f8ef7', '#f2a33a', '#3cba7a', '#d75f9b', '#9b7df2', '#5bc0c8', '#c9c94a']

function el(name, attrs, text) {
  const node = document.createElementNS(NS, name)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v))
  if (text !== undefined) node.textContent = text
  return node
}

/** A compact number for axis labels: 1.2k, 3.4M, 0.05. */
export function compact(value) {
  const abs = Math.abs(value)
  if (abs >= 1e6) return `${(value / 1e6).toFixed(1)}M`
  if (abs >= 1e3) return `${(value / 1e3).toFixed(1)}k`
  if (abs >= 10 || Number.isInteger(value)) return value.toFixed(0)
  return value.toFixed(abs >= 1 ? 1 : 2)
}

/**
 * Draws `series` ([{ name, points: [[time, value], ...] }]) into `svg` over the window
 * [now - spanMs, now]; the y axis starts at 0 and fits the largest value.
 */
export function drawLines(svg, series, { now, spanMs, unit = '' }) {
  svg.replaceChildren()
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`)
  const values = series.flatMap((s) => s.points.map((p) => p[1]))
  const top = Math.max(0, ...values)
  const max = (top > 0 ? top : 1) * 1.1
  const x = (t) => PAD.left + ((t - (now - spanMs)) / spanMs) * (W - PAD.left - PAD.right)
  const y = (v) => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom)
  for (const f of [0, 0.5, 1]) {
    const at = y(max * f)
    svg.append(el('line', { x1: PAD.left, x2: W - PAD.right, y1: at, y2: at, class: 'grid' }))
    svg.append(
      el('text', { x: PAD.left - 4, y: at + 4, class: 'axis' }, `${compact(max * f)}${unit}`),
    )
  }
  svg.append(el('text', { x: PAD.left, y: H - 4, class: 'axis start' }, `-${spanMs / 1000}s`))
  svg.append(el('text', { x: W - PAD.right, y: H - 4, class: 'axis' }, 'now'))
  series.forEach((s, i) => {
    const visible = s.points.filter((p) => p[0] >= now - spanMs)
    if (visible.length === 0) return
    const d = visible.map((p, j) => `${j ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`)
    svg.append(
      el('path', {
        d: d.join(''),
        class: 'series',
        stroke: palette[i % palette.length],
        'data-series': s.name,
      }),
    )
  })
}

/** The legend under a chart: each series' colour, name and latest value. */
export function legend(container, series, format) {
  container.replaceChildren()
  series.forEach((s, i) => {
    const item = document.createElement('span')
    item.className = 'key'
    item.style.setProperty('--c', palette[i % palette.length])
    const last = s.points.at(-1)
    item.textContent = `${s.name} ${last ? format(last[1]) : '—'}`
    container.append(item)
  })
}
