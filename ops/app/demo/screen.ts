// What `imflow demo` shows: one screen redrawn in place on a terminal, a quiet line now and
// then otherwise, and the final report. Pure text from the numbers: a test reads it.

import type { Percentiles } from '../../../bench/latency.js'
import type { DemoStats } from './stats.js'

export interface ServerFigures {
  /** 1 - merged updates out / in, from imflow_merge_updates_* (absent until merging ships). */
  mergeReduction?: number
  /** Throttled receipts per second from imflow_shaping_throttled_total. */
  throttledPerSec?: number
  /** Consumer lag over all topologies. */
  lag?: number
}

export interface Frame {
  url: string
  stats: DemoStats
  recent: Percentiles
  devices: number
  rate: number
  durationSeconds: number
  server: ServerFigures
}

const n = (v: number) => Math.round(v).toLocaleString('en-US')
const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(v < 10 ? 1 : 0)} ms` : '—')
const maybe = (v: number | undefined, f: (v: number) => string) => (v === undefined ? '—' : f(v))

export function liveScreen(f: Frame): string[] {
  const { stats } = f
  const t = stats.elapsedSeconds()
  const fanOut = stats.accepted ? stats.recipients / stats.accepted : 0
  return [
    `imflow demo → ${f.url}   ${t.toFixed(0)} s / ${f.durationSeconds} s${stats.draining ? ' (sent; waiting for the last pushes)' : ''}   target ${f.rate} msg/s`,
    '',
    `  sent        ${n(stats.sent).padStart(10)}   ${(stats.sent / t || 0).toFixed(1)} msg/s   avg fan-out ${fanOut.toFixed(1)}`,
    `  accepted    ${n(stats.accepted).padStart(10)}   throttled ${n(stats.throttled)}   rejected ${n(stats.rejected)}   failed ${n(stats.failed)}   skipped ${n(stats.skipped)}`,
    `  delivered   ${n(stats.delivered).padStart(10)}   to ${n(f.devices)} online devices   reads ${n(stats.reads)}   reactions ${n(stats.reactions)}`,
    `  latency     p50 ${ms(f.recent.p50)}   p99 ${ms(f.recent.p99)}   (send → push, last second)`,
    `  server      merge reduction ${maybe(f.server.mergeReduction, (v) => `${(v * 100).toFixed(1)}%`)}   throttled ${maybe(f.server.throttledPerSec, (v) => `${v.toFixed(1)}/s`)}   lag ${maybe(f.server.lag, n)}`,
    `  devices     ${n(stats.logins)} logins, ${n(stats.logouts)} logouts`,
  ]
}

/** One line for logs and pipes. */
export function progressLine(f: Frame): string {
  const { stats } = f
  return `demo ${stats.elapsedSeconds().toFixed(0)}s: sent=${stats.sent} accepted=${stats.accepted} delivered=${stats.delivered} p50=${ms(f.recent.p50)} p99=${ms(f.recent.p99)} devices=${f.devices}`
}

export function finalReport(f: Frame, kinds: Record<string, number>): string[] {
  const { stats } = f
  const t = stats.elapsedSeconds()
  const all = stats.overall()
  const errors = [...stats.errors].map(([code, count]) => `${code} ×${count}`).join(', ')
  return [
    '',
    `imflow demo: ${t.toFixed(1)} s of sending against ${f.url}`,
    `  messages    ${n(stats.sent)} sent (${(stats.sent / t).toFixed(1)}/s), ${n(stats.accepted)} accepted, ${n(stats.throttled)} throttled, ${n(stats.rejected)} rejected, ${n(stats.failed)} failed`,
    `  by kind     ${Object.entries(kinds)
      .map(([k, v]) => `${k} ${n(v)}`)
      .join(', ')}`,
    `  fan-out     ${(stats.accepted ? stats.recipients / stats.accepted : 0).toFixed(1)} members per accepted message`,
    `  delivered   ${n(stats.delivered)} pushes to this run's devices; ${n(stats.reads)} read receipts, ${n(stats.reactions)} reactions`,
    `  latency     send → push p50 ${ms(all.p50)}, p99 ${ms(all.p99)} (${n(all.count)} deliveries)`,
    `  devices     ${n(stats.logins)} logins, ${n(stats.logouts)} logouts`,
    ...(errors ? [`  errors      ${errors}`] : []),
  ]
}

/** Shows frames: redrawn in place on a terminal, else a progress line every 5 seconds. */
export function display(write: (text: string) => void, tty: boolean): (f: Frame) => void {
  let shown = 0
  return (f) => {
    if (tty) {
      const lines = liveScreen(f)
      write(`${shown ? `\x1b[${shown}A` : ''}\x1b[J${lines.join('\n')}\n`)
      shown = lines.length
    } else if (Math.round(f.stats.elapsedSeconds()) % 5 === 0) {
      write(`${progressLine(f)}\n`)
    }
  }
}
