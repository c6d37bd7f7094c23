// The dashboard's logic: polls /metrics, turns counters into rates and histograms into
// percentiles over each interval, keeps a few minutes of history, and redraws the panels.

import { compact, drawLines, legend } from './charts.js'
import { expected, present } from './metric-names.js'
import {
  buckets,
  bucketsBetween,
  has,
  parseMetrics,
  quantile,
  total,
  totalBy,
} from './metrics-text.js'

const params = new URLSearchParams(location.search)
const intervalMs = Math.max(200, Number(params.get('interval') ?? 2000))
const spanMs = Math.max(10_000, Number(params.get('span') ?? 300_000))
const history = new Map()
let previous

function record(panel, series, t, value) {
  if (value === undefined || !Number.isFinite(value)) return
  const panelSeries = history.get(panel) ?? new Map()
  history.set(panel, panelSeries)
  const points = panelSeries.get(series) ?? []
  panelSeries.set(series, points)
  points.push([t, value])
  while (points.length > 0 && points[0][0] < t - spanMs) points.shift()
}

/** Per-second rates of a counter per label value between two scrapes (a reset counts as 0). */
function ratesBy(now, before, seconds, name, by) {
  const a = totalBy(now, name, by)
  const b = totalBy(before, name, by)
  return Object.fromEntries(
    Object.entries(a).map(([k, v]) => [k, Math.max(0, v - (b[k] ?? 0)) / seconds]),
  )
}

function rate(now, before, seconds, name, where) {
  const a = total(now, name, where)
  if (a === undefined) return undefined
  return Math.max(0, a - (total(before, name, where) ?? 0)) / seconds
}

const sum = (values) => Object.values(values).reduce((s, v) => s + v, 0)
const ms = (seconds) => (seconds === undefined ? undefined : seconds * 1000)

/** The panels' latest figures; history gets a point per series per poll. */
function update(t, now, before, seconds) {
  const figures = {}
  const throughput = ratesBy(now, before, seconds, present.recordsIn, 'topology')
  for (const [topology, v] of Object.entries(throughput)) record('throughput', topology, t, v)
  figures.throughput = sum(throughput)

  const lag = totalBy(now, present.lag, 'topology')
  for (const [topology, v] of Object.entries(lag)) record('lag', topology, t, v)
  figures.lag = Object.keys(lag).length > 0 ? sum(lag) : undefined

  // Push latency when the gateway reports it; until then the send path's receipt latency.
  const pushed = has(now, expected.pushLatency)
  const histogram = pushed ? expected.pushLatency : present.httpDuration
  const where = pushed ? undefined : { route: '/v1/messages', method: 'POST' }
  const observed = bucketsBetween(buckets(before, histogram, where), buckets(now, histogram, where))
  const p50 = ms(quantile(observed, 0.5))
  const p99 = ms(quantile(observed, 0.99))
  record('latency', 'p50', t, p50)
  record('latency', 'p99', t, p99)
  // An interval with no observation keeps the last figure (the chart shows the gap).
  figures.latency = p99 ?? history.get('latency')?.get('p99')?.at(-1)?.[1]
  figures.latencySource = pushed ? 'push' : 'send'

  const devices = total(now, present.connections)
  record('devices', 'connections', t, devices)
  const frames = rate(now, before, seconds, present.framesDelivered)
  record('devices', 'frames/s', t, frames)
  figures.devices = devices

  const dead = ratesBy(now, before, seconds, present.deadLetters, 'topology')
  for (const [topology, v] of Object.entries(dead)) record('dead', topology, t, v)
  figures.dead = total(now, present.deadLetters) ?? 0

  const loop50 = ms(total(now, present.eventLoopP50))
  const loop99 = ms(total(now, present.eventLoopP99))
  record('loop', 'p50', t, loop50)
  record('loop', 'p99', t, loop99)
  figures.loop = loop99

  const accepted = rate(now, before, seconds, present.httpRequests, {
    route: '/v1/messages',
    method: 'POST',
    status: '200',
  })
  record('throughput', 'API sends', t, accepted)

  const mergeIn = rate(now, before, seconds, present.mergeIn)
  const mergeOut = rate(now, before, seconds, present.mergeOut)
  const reduction = mergeIn ? 100 * (1 - (mergeOut ?? 0) / mergeIn) : undefined
  record('merge', 'reduction %', t, reduction)
  figures.merge = has(now, present.mergeIn) ? reduction : undefined

  const throttled = rate(now, before, seconds, present.throttled)
  record('throttled', 'throttled/s', t, throttled)
  figures.throttled = throttled

  const queued = total(now, present.lowQueued)
  record('low', 'queued', t, queued)
  record('low', 'oldest (s)', t, total(now, present.lowOldestAge))
  figures.low = queued
  return figures
}

const formats = {
  throughput: (v) => `${compact(v)}/s`,
  lag: (v) => compact(v),
  latency: (v) => `${v.toFixed(v < 10 ? 1 : 0)} ms`,
  devices: (v) => compact(v),
  dead: (v) => compact(v),
  loop: (v) => `${v.toFixed(1)} ms`,
  merge: (v) => `${v.toFixed(1)}%`,
  throttled: (v) => `${compact(v)}/s`,
  low: (v) => compact(v),
}

function render(t, figures) {
  for (const card of document.querySelectorAll('[data-panel]')) {
    const panel = card.dataset.panel
    const value = figures[panel]
    const format = formats[panel] ?? compact
    card.querySelector('.big').textContent = value === undefined ? '—' : format(value)
    card.dataset.value = value === undefined ? '' : String(value)
    const series = [...(history.get(panel) ?? new Map())].map(([name, points]) => ({
      name,
      points,
    }))
    card.dataset.points = String(series.reduce((n, s) => n + s.points.length, 0))
    drawLines(card.querySelector('svg'), series, { now: t, spanMs })
    legend(card.querySelector('.legend'), series, (v) => compact(v))
  }
  const source = document.querySelector('[data-panel="latency"] .source')
  source.textContent =
    figures.latencySource === 'push'
      ? 'message created → frame on the device socket'
      : `send → receipt (POST /v1/messages); push latency once ${expected.pushLatency} exists`
}

async function poll() {
  const status = document.getElementById('status')
  try {
    const res = await fetch('/metrics', { cache: 'no-store' })
    if (!res.ok) throw new Error(`/metrics answered ${res.status}`)
    const samples = parseMetrics(await res.text())
    const t = Date.now()
    if (previous) {
      const seconds = Math.max(0.001, (t - previous.t) / 1000)
      render(t, update(t, samples, previous.samples, seconds))
    }
    previous = { t, samples }
    status.textContent = `live · every ${intervalMs / 1000} s · ${new Date(t).toLocaleTimeString()}`
    status.className = 'ok'
  } catch (err) {
    status.textContent = `cannot read /metrics: ${err.message}`
    status.className = 'error'
  } finally {
    setTimeout(poll, intervalMs)
  }
}

poll()
