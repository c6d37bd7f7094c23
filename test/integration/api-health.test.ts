// /healthz, /readyz and /metrics over the real broker and registry; readiness drops when a
// dependency stops answering.

import { afterAll, describe, expect, inject, it } from 'vitest'
import { buildApi } from '../../connectors/http/server.js'
import { kafkaProbe, registryProbe } from '../../ops/health.js'
import { createMetrics } from '../../ops/metrics.js'
import { freePort } from '../../ops/ports.js'
import { testKafka } from './helpers.js'

describe('health and metrics routes', () => {
  const admin = testKafka().admin()
  afterAll(() => admin.disconnect())

  async function api(registryUrl: string) {
    await admin.connect()
    return buildApi({
      metrics: createMetrics(),
      logLevel: 'error',
      probes: { kafka: kafkaProbe(admin), schema_registry: registryProbe(registryUrl) },
    })
  }

  it('is ready when Kafka and the registry answer, and reports it on /metrics', async () => {
    const app = await api(inject('schemaRegistryUrl'))
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' })
    const ready = await app.inject('/readyz')
    expect(ready.statusCode).toBe(200)
    expect(ready.json().checks).toEqual({ kafka: { ok: true }, schema_registry: { ok: true } })
    const metrics = (await app.inject('/metrics')).body
    expect(metrics).toContain('imflow_dependency_up{dependency="kafka"} 1')
    expect(metrics).toContain('imflow_dependency_up{dependency="schema_registry"} 1')
    expect(metrics).toContain(
      'imflow_http_requests_total{route="/readyz",method="GET",status="200"} 1',
    )
    await app.close()
  })

  it('is not ready when the registry does not answer, and says which dependency failed', async () => {
    const app = await api(`http://127.0.0.1:${await freePort()}/apis/ccompat/v7`)
    const ready = await app.inject('/readyz')
    expect(ready.statusCode).toBe(503)
    expect(ready.json().checks.kafka).toEqual({ ok: true })
    expect(ready.json().checks.schema_registry.ok).toBe(false)
    expect((await app.inject('/metrics')).body).toContain(
      'imflow_dependency_up{dependency="schema_registry"} 0',
    )
    await app.close()
  })
})
