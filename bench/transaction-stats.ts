// The topologies' transactions over a stretch of a run, read from the app's own metrics:
// how many, how many records each, and the time spent processing and committing them. Tells
// whether a path's latency is its work or its commits.

import type { Registry } from 'prom-client'

interface Totals {
  transactions: number
  records: number
  processSeconds: number
  commitSeconds: number
  /** Seconds per part of the commit (imflow_task_commit_phase_seconds). */
  phases: Record<string, number>
}

const emptyTotals = (): Totals => ({
  transactions: 0,
  records: 0,
  processSeconds: 0,
  commitSeconds: 0,
  phases: {},
})

type Snapshot = Map<string, Totals>

async function histogramTotals(
  registry: Registry,
  name: string,
  into: Snapshot,
  field: 'processSeconds' | 'commitSeconds',
): Promise<void> {
  const metric = registry.getSingleMetric(name)
  if (!metric) return
  for (const v of (await metric.get()).values) {
    const topology = String(v.labels.topology)
    const totals = into.get(topology) ?? emptyTotals()
    into.set(topology, totals)
    const metricName = (v as { metricName?: string }).metricName
    if (metricName === `${name}_sum`) totals[field] = v.value
    if (metricName === `${name}_count` && field === 'commitSeconds') totals.transactions = v.value
  }
}

export async function transactionSnapshot(registry: Registry): Promise<Snapshot> {
  const snapshot: Snapshot = new Map()
  await histogramTotals(registry, 'imflow_task_process_seconds', snapshot, 'processSeconds')
  await histogramTotals(registry, 'imflow_task_commit_seconds', snapshot, 'commitSeconds')
  const phases = registry.getSingleMetric('imflow_task_commit_phase_seconds')
  for (const v of phases ? (await phases.get()).values : []) {
    const totals = snapshot.get(String(v.labels.topology))
    const metricName = (v as { metricName?: string }).metricName
    if (totals && metricName === 'imflow_task_commit_phase_seconds_sum')
      totals.phases[String(v.labels.phase)] = v.value
  }
  const records = registry.getSingleMetric('imflow_task_records_in_total')
  for (const v of records ? (await records.get()).values : []) {
    const totals = snapshot.get(String(v.labels.topology))
    if (totals) totals.records += v.value
  }
  return snapshot
}

/** One line per topology that committed between the two snapshots. */
export function transactionLines(before: Snapshot, after: Snapshot, seconds: number): string[] {
  const lines: string[] = []
  for (const [topology, a] of after) {
    const b = before.get(topology) ?? emptyTotals()
    const transactions = a.transactions - b.transactions
    if (transactions === 0) continue
    const ms = (s: number) => ((1000 * s) / transactions).toFixed(1)
    lines.push(
      `      ${topology.padEnd(9)} ${(transactions / seconds).toFixed(1)} transactions/s, ${((a.records - b.records) / transactions).toFixed(1)} records each, process ${ms(a.processSeconds - b.processSeconds)} ms + commit ${ms(a.commitSeconds - b.commitSeconds)} ms per transaction (${Object.keys(
        a.phases,
      )
        .map((p) => `${p} ${ms((a.phases[p] ?? 0) - (b.phases[p] ?? 0))}`)
        .join(', ')})`,
    )
  }
  return lines
}
