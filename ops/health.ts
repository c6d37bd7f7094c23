// Readiness probes of imflow's dependencies: bounded in time, they report, never throw.

import type { Admin } from 'kafkajs'
import { type ErrorCode, ImflowError } from './errors.js'

export interface ProbeResult {
  readonly ok: boolean
  readonly detail?: string
}

export type Probe = () => Promise<ProbeResult>

async function bounded(
  code: ErrorCode,
  timeoutMs: number,
  work: () => Promise<void>,
): Promise<ProbeResult> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      work(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new ImflowError(code, `no answer within ${timeoutMs} ms`)),
          timeoutMs,
        )
      }),
    ])
    return { ok: true }
  } catch (err) {
    return { ok: false, detail: err instanceof Error ? err.message : String(err) }
  } finally {
    clearTimeout(timer)
  }
}

/** Kafka is ready when the cluster answers a metadata request with at least one broker. */
export function kafkaProbe(admin: Admin, timeoutMs = 2_000): Probe {
  return () =>
    bounded('IMF_ERR_KAFKA_UNAVAILABLE', timeoutMs, async () => {
      const { brokers } = await admin.describeCluster()
      if (brokers.length === 0)
        throw new ImflowError('IMF_ERR_KAFKA_UNAVAILABLE', 'the cluster reports no brokers')
    })
}

/** The registry is ready when it lists its subjects. */
export function registryProbe(baseUrl: string, timeoutMs = 2_000): Probe {
  return () =>
    bounded('IMF_ERR_REGISTRY_UNAVAILABLE', timeoutMs, async () => {
      const res = await fetch(`${baseUrl}/subjects`, { signal: AbortSignal.timeout(timeoutMs) })
      if (!res.ok) {
        throw new ImflowError(
          'IMF_ERR_REGISTRY_UNAVAILABLE',
          `GET /subjects answered ${res.status}`,
        )
      }
    })
}

/** The topologies are ready when each consumes (see RunningTopology.healthy). */
export function topologiesProbe(
  topologies: readonly { name: string; healthy(): ProbeResult }[],
): Probe {
  return async () => {
    const down = topologies
      .map((t) => ({ name: t.name, result: t.healthy() }))
      .filter((t) => !t.result.ok)
    if (down.length === 0) return { ok: true }
    return { ok: false, detail: down.map((t) => `${t.name}: ${t.result.detail}`).join('; ') }
  }
}
