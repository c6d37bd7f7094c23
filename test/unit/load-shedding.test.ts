// Load shedding: the monitor's view of stalls and requests in flight, and the API's answer
// when it sheds (503 IMF_ERR_OVERLOADED with Retry-After at once; health and metrics still
// served, /readyz saying why). Through fastify's inject, no Kafka.

import { describe, expect, it } from 'vitest'
import { LoadMonitor } from '../../connectors/http/load-shedding.js'
import { buildApi } from '../../connectors/http/server.js'
import { createMetrics } from '../../ops/metrics.js'

describe('load shedding', () => {
  it('measures the worst stall over a window of ticks, and forgets it after', () => {
    let now = 0
    const monitor = new LoadMonitor({ maxInFlight: 0, maxEventLoopLagMs: 500 }, () => now)
    monitor.start()
    monitor.stop()
    now = 100
    monitor.tick()
    expect(monitor.overloaded()).toBeUndefined()
    now += 100 + 800 // a tick 800 ms late: the loop was busy
    monitor.tick()
    expect(monitor.lagMs()).toBe(800)
    expect(monitor.overloaded()).toMatch(/stalled for 800 ms/)
    for (let i = 0; i < 20; i++) {
      now += 100
      monitor.tick()
    }
    expect(monitor.overloaded()).toBeUndefined()
  })

  it('bounds requests in flight', () => {
    const monitor = new LoadMonitor({ maxInFlight: 2, maxEventLoopLagMs: 0 })
    monitor.enter()
    expect(monitor.overloaded()).toBeUndefined()
    monitor.enter()
    expect(monitor.overloaded()).toMatch(/2 requests in flight/)
    monitor.leave()
    expect(monitor.overloaded()).toBeUndefined()
  })

  it('answers 503 with Retry-After while overloaded, but keeps health and metrics', async () => {
    const monitor = new LoadMonitor({ maxInFlight: 1, maxEventLoopLagMs: 0 })
    const app = await buildApi({
      metrics: createMetrics(),
      logLevel: 'error',
      load: monitor,
      probes: { load: monitor.probe },
    })
    try {
      expect((await app.inject('/v1/conversations')).statusCode).toBe(404)
      monitor.enter() // a request that holds on (a slow upload, a receipt not yet there)
      const shed = await app.inject('/v1/conversations')
      expect(shed.statusCode).toBe(503)
      expect(shed.headers['retry-after']).toBe('1')
      expect(shed.json()).toMatchObject({ code: 'IMF_ERR_OVERLOADED', retryAfterMs: 1_000 })
      expect((await app.inject('/healthz')).statusCode).toBe(200)
      expect((await app.inject('/metrics')).statusCode).toBe(200)
      const ready = await app.inject('/readyz')
      expect(ready.statusCode).toBe(503)
      expect(ready.json().checks.load).toEqual({
        ok: false,
        detail: expect.stringMatching(/shedding load: 1 requests in flight/),
      })
      monitor.leave()
      expect((await app.inject('/readyz')).statusCode).toBe(200)
      // Every request that went through left: nothing is counted in flight any more.
      expect(monitor.overloaded()).toBeUndefined()
    } finally {
      await app.close()
    }
  })
})
