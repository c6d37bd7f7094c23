// Backfill benchmark, on one broker in one run (docs/replay.md, "Backfill"): a topology
// (bench/sum-topology.ts) runs over IMFLOW_BENCH_RECORDS records (default 100,000; 4
// partitions, 10,000 keys) with its counts store only; then starts with the sums store added,
// declared with a backfill, and builds it from the log before it goes on. Rates:
//   1. the topology live, with both stores from the start, over the same records (what a
//      replay --into a new app id would cost: the baseline),
//   2. the topology live with the counts store only (the first run),
//   3. the backfill of the sums store: from the start until every task is open,
//   4. the same store declared without its fold, in a second app id that ran with counts
//      only: rebuilt by a shadow run of each task (store-rebuild.ts), start to every task open.
// Uses KAFKA_BROKERS when set, else starts an embedded broker. Usage: npm run bench -- backfill

import { join } from 'node:path'
import { createTopicsAndWait } from '../ops/kafka-admin.js'
import { type RunningTopology, startTopology } from '../topologies/runtime/index.js'
import { committed, fillKeyed, waitFor, withBroker } from './broker.js'
import { against, type BenchResult } from './result.js'
import { backfillTopology } from './sum-topology.js'

const RECORDS = Number(process.env.IMFLOW_BENCH_RECORDS ?? 100_000)
const PARTITIONS = 4
const KEYS = 10_000

export function backfillBench(): Promise<BenchResult> {
  return withBroker(async ({ kafka, admin, dir, quiet, run }) => {
    const input = `${run}-in`
    const internal: string[] = []
    try {
      await createTopicsAndWait(admin, [{ topic: input, numPartitions: PARTITIONS }])
      await fillKeyed(kafka, input, RECORDS, KEYS, (i) => String(i % 100))

      const start = (appId: string, withSums: boolean | 'plain') =>
        startTopology(backfillTopology(input, withSums), {
          kafka,
          appId,
          stateDir: join(dir, 'state'),
          log: quiet,
        })
      /** Records/s of a topology started now until `done`, then stopped. */
      const timed = async (
        appId: string,
        withSums: boolean | 'plain',
        done: (t: RunningTopology) => Promise<boolean>,
      ) => {
        const started = Date.now()
        const running = await start(appId, withSums)
        await waitFor(() => done(running))
        const rate = RECORDS / ((Date.now() - started) / 1000)
        await running.stop()
        internal.push(
          ...(withSums ? ['counts', 'sums'] : ['counts']).map(
            (s) => `${appId}-summing-${s}-changelog`,
          ),
        )
        return rate
      }
      const consumed = (appId: string) => async () =>
        (await committed(admin, `${appId}-summing`, input)) >= RECORDS
      // The reference last: the first run of a process pays for warming up.
      const countsOnly = await timed(`${run}-app`, false, consumed(`${run}-app`))
      const open = async (t: RunningTopology) =>
        Array.from({ length: PARTITIONS }, (_, p) => t.committedStore(p, 'sums')).every(Boolean)
      const backfill = await timed(`${run}-app`, true, open)
      await timed(`${run}-shadow`, false, consumed(`${run}-shadow`))
      const rebuild = await timed(`${run}-shadow`, 'plain', open)
      const fromStart = await timed(`${run}-ref`, true, consumed(`${run}-ref`))

      const base = { label: 'live, both stores from the start', value: fromStart }
      const figures = [
        { label: base.label, value: fromStart, unit: 'records/s' },
        against('live, counts store only', countsOnly, 'records/s', base),
        against('backfill of the sums store', backfill, 'records/s', base),
        against('shadow-run rebuild of the sums store', rebuild, 'records/s', base),
      ]
      const text = [
        `backfill: ${RECORDS} records, ${PARTITIONS} partitions, ${KEYS} keys, one broker`,
        ...figures.map(
          (f) =>
            `  ${f.label.padEnd(36)} ${String(Math.round(f.value)).padStart(7)} records/s${f.ratio === undefined ? '  (baseline)' : `  = ${f.ratio.toFixed(2)} x live from the start`}`,
        ),
      ].join('\n')
      return { text, figures }
    } finally {
      await admin.deleteTopics({ topics: [input, ...internal] }).catch(() => {})
    }
  })
}
