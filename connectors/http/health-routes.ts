// /healthz (the process runs), /readyz (Kafka and the registry answer) and /metrics.

import type { FastifyPluginAsync } from 'fastify'
import type { Probe } from '../../ops/health.js'
import type { Metrics } from '../../ops/metrics.js'

export interface HealthOptions {
  probes: Readonly<Record<string, Probe>>
  metrics: Metrics
}

export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (app, { probes, metrics }) => {
  app.get('/healthz', async () => ({ status: 'ok' }))

  app.get('/readyz', async (_request, reply) => {
    const names = Object.keys(probes)
    const results = await Promise.all(names.map((name) => probes[name]?.()))
    const checks = Object.fromEntries(names.map((name, i) => [name, results[i]]))
    for (const [i, name] of names.entries()) {
      metrics.dependencyUp.set({ dependency: name }, results[i]?.ok ? 1 : 0)
    }
    const ready = results.every((r) => r?.ok)
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks })
  })

  app.get('/metrics', async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.render())
  })
}
