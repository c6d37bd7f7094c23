// The catalogue of what imflow reports on /metrics (Prometheus). Modules take their
// instruments from here, so this file is the one place to read what the system measures.

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

export interface Metrics {
  readonly registry: Registry
  readonly httpRequests: Counter<'route' | 'method' | 'status'>
  readonly httpDuration: Histogram<'route' | 'method'>
  readonly dependencyUp: Gauge<'dependency'>
}

export function createMetrics(): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'imflow_process_' })
  return {
    registry,
    httpRequests: new Counter({
      name: 'imflow_http_requests_total',
      help: 'HTTP API requests answered, by route, method and status code.',
      labelNames: ['route', 'method', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'imflow_http_request_duration_seconds',
      help: 'HTTP API request latency.',
      labelNames: ['route', 'method'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    dependencyUp: new Gauge({
      name: 'imflow_dependency_up',
      help: '1 when the dependency (kafka, schema_registry) answered its last readiness probe, else 0.',
      labelNames: ['dependency'],
      registers: [registry],
    }),
  }
}
