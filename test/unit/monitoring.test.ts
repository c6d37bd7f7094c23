// The Grafana dashboard, the alert rules and the /dashboard page name only metrics imflow
// reports (ops/metrics.ts) or the ones other work is asked to report under agreed names
// (metric-names.js `expected`); every alert links a runbook section that exists.

import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { expected, present } from '../../connectors/http/dashboard/metric-names.js'
import { createMetrics, registerGatewayMetrics, registerShapingMetrics } from '../../ops/metrics.js'

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8')

async function reported(): Promise<Set<string>> {
  const metrics = createMetrics()
  registerGatewayMetrics(metrics.registry, () => ({
    connections: 0,
    envelopes: 0,
    roomEvents: 0,
    delivered: 0,
  }))
  registerShapingMetrics(metrics.registry, () => ({
    accepted: {},
    throttled: {},
    drained: 0,
    drainedForDeadline: 0,
    queued: 0,
    oldestAgeMs: 0,
    capacity: 0,
  }))
  const names = new Set<string>()
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    names.add(m.name)
    if (String(m.type) === 'histogram') {
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${m.name}${suffix}`)
    }
  }
  return names
}

const expectedNames = new Set(
  Object.values(expected).flatMap((n) => [n, `${n}_bucket`, `${n}_sum`, `${n}_count`]),
)
const referenced = (text: string) => new Set(text.match(/\bimflow_[a-z0-9_]+/g) ?? [])

const grafana = JSON.parse(read('ops/monitoring/grafana-dashboard.json')) as {
  panels: { title: string; targets: { expr: string }[] }[]
}
const alerts = read('ops/monitoring/alerts.yml')

describe('monitoring', () => {
  it('the alert rules and the Grafana dashboard use only known metric names', async () => {
    const known = await reported()
    const exprs = [
      ...grafana.panels.flatMap((p) => p.targets.map((t) => t.expr)),
      ...[...alerts.matchAll(/expr: (\|\n(?: {10}.*\n)+|.*)/g)].map((m) => m[1] as string),
    ]
    expect(exprs.length).toBeGreaterThan(15)
    const unknown = [...referenced(exprs.join('\n'))].filter(
      (n) => !known.has(n) && !expectedNames.has(n),
    )
    expect(unknown).toEqual([])
    // Not every name is a placeholder: the ones reported today are used.
    expect([...referenced(exprs.join('\n'))].filter((n) => known.has(n)).length).toBeGreaterThan(8)
  })

  it("the /dashboard page's present metrics exist, and its expected ones do not yet clash", async () => {
    const known = await reported()
    expect(Object.values(present).filter((n) => !known.has(n))).toEqual([])
    for (const name of Object.values(expected)) {
      expect(name).toMatch(/^imflow_(merge|shaping|gateway)_/)
    }
  })

  it('alerts cover lag, push latency, dead letters, event-loop lag and the low-lane deadline, each with a runbook', () => {
    const names = [...alerts.matchAll(/- alert: (\w+)/g)].map((m) => m[1])
    expect(names).toEqual(
      expect.arrayContaining([
        'ImflowConsumerLagHigh',
        'ImflowPushLatencyHigh',
        'ImflowDeadLetters',
        'ImflowEventLoopLag',
        'ImflowLowLaneNearDeadline',
        'ImflowPartitionStuck',
      ]),
    )
    const anchors = new Set(
      [...read('docs/runbooks.md').matchAll(/^#+ (.+)$/gm)].map((m) =>
        (m[1] as string)
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-'),
      ),
    )
    const runbooks = [...alerts.matchAll(/runbook: docs\/runbooks\.md#([\w-]+)/g)].map((m) => m[1])
    expect(runbooks).toHaveLength(names.length)
    expect(runbooks.filter((a) => !anchors.has(a as string))).toEqual([])
  })
})
