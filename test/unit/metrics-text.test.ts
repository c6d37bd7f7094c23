import { describe, expect, it } from 'vitest'
import {
  buckets,
  bucketsBetween,
  has,
  parseMetrics,
  quantile,
  total,
  totalBy,
} from '../../connectors/http/dashboard/metrics-text.js'
import { createMetrics } from '../../ops/metrics.js'

describe("the dashboard's reading of /metrics", () => {
  it('reads what the metrics registry exposes: counters by label, escaped labels', async () => {
    const metrics = createMetrics()
    metrics.task.recordsIn.inc({ topology: 'receiver', partition: '0' }, 5)
    metrics.task.recordsIn.inc({ topology: 'receiver', partition: '1' }, 2)
    metrics.task.recordsIn.inc({ topology: 'sync', partition: '0' }, 4)
    metrics.httpRequests.inc({ route: '/a"b\\c', method: 'GET', status: '200' })
    const samples = parseMetrics(await metrics.registry.metrics())
    expect(total(samples, 'imflow_task_records_in_total')).toBe(11)
    expect(total(samples, 'imflow_task_records_in_total', { topology: 'sync' })).toBe(4)
    expect(totalBy(samples, 'imflow_task_records_in_total', 'topology')).toEqual({
      receiver: 7,
      sync: 4,
    })
    expect(total(samples, 'imflow_http_requests_total', { route: '/a"b\\c' })).toBe(1)
    expect(total(samples, 'imflow_no_such_metric')).toBeUndefined()
    expect(has(samples, 'imflow_process_nodejs_eventloop_lag_p99_seconds')).toBe(true)
  })

  it('computes quantiles of what was observed between two scrapes', async () => {
    const metrics = createMetrics()
    const where = { route: '/v1/messages', method: 'POST' }
    for (let i = 0; i < 100; i++) metrics.httpDuration.observe(where, 2) // before: slow
    const before = buckets(
      parseMetrics(await metrics.registry.metrics()),
      'imflow_http_request_duration_seconds',
      where,
    )
    for (let i = 0; i < 90; i++) metrics.httpDuration.observe(where, 0.003)
    for (let i = 0; i < 10; i++) metrics.httpDuration.observe(where, 0.07)
    const after = buckets(
      parseMetrics(await metrics.registry.metrics()),
      'imflow_http_request_duration_seconds',
      where,
    )
    const between = bucketsBetween(before, after)
    // 90 in (0.001, 0.005], 10 in (0.05, 0.1]: p50 inside the first, p99 inside the second.
    const p50 = quantile(between, 0.5) as number
    const p99 = quantile(between, 0.99) as number
    expect(p50).toBeGreaterThan(0.001)
    expect(p50).toBeLessThanOrEqual(0.005)
    expect(p99).toBeGreaterThan(0.05)
    expect(p99).toBeLessThanOrEqual(0.1)
    expect(quantile(bucketsBetween(after, after), 0.5)).toBeUndefined()
    // Everything above the top bound: the top bound, as Prometheus answers.
    expect(
      quantile(
        [
          { le: 1, count: 0 },
          { le: Infinity, count: 3 },
        ],
        0.5,
      ),
    ).toBe(1)
  })
})
