// A task's transaction with its coordinators kept (ops/kafkajs-coordinator-cache.ts) against
// kafkajs' own lookup before every call. P task producers (the runtime's, internal/kafka-io.ts)
// commit at once, back to back, each transaction one record and the task's input offsets, as
// the large-group path's tasks do at low load (receiver, merge, merge-index: 12 at 4
// partitions). The two kinds alternate in rounds (order flipped each round), same producers,
// broker and run. Usage: npm run bench -- coordinators (IMFLOW_BENCH_PRODUCERS, default 12;
// IMFLOW_BENCH_ROUNDS, default 6, of IMFLOW_BENCH_ROUND_SECONDS, default 5, per kind).

import { loadavg } from 'node:os'
import { createTopicsAndWait } from '../ops/kafka-admin.js'
import { setCoordinatorCache } from '../ops/kafkajs-coordinator-cache.js'
import { createTaskProducer, type TaskProducer } from '../topologies/runtime/internal/kafka-io.js'
import { withBroker } from './broker.js'
import { percentiles } from './latency.js'
import { against, type BenchFigure, type BenchResult } from './result.js'

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback)

/** Every producer commits transactions back to back for `ms`; each one's time goes to `into`. */
async function round(
  producers: readonly TaskProducer[],
  topic: string,
  groupId: string,
  ms: number,
  into: number[],
): Promise<void> {
  const end = performance.now() + ms
  await Promise.all(
    producers.map(async (producer, p) => {
      for (let n = 0; performance.now() < end; n++) {
        const start = performance.now()
        const txn = await producer.begin()
        await txn.send([{ topic, key: null, value: Buffer.from(String(n)), partition: p }])
        await txn.sendOffsets(groupId, p, [{ topic, nextOffset: n + 1 }])
        await txn.commit()
        into.push(performance.now() - start)
      }
    }),
  )
}

export async function coordinatorsBench(): Promise<BenchResult> {
  const count = env('IMFLOW_BENCH_PRODUCERS', 12)
  const rounds = env('IMFLOW_BENCH_ROUNDS', 6)
  const roundMs = env('IMFLOW_BENCH_ROUND_SECONDS', 5) * 1000
  return withBroker(async ({ kafka, admin, run }) => {
    const topic = `${run}-coordinators`
    await createTopicsAndWait(admin, [{ topic, numPartitions: count }])
    const producers = await Promise.all(
      Array.from({ length: count }, (_, p) => createTaskProducer(kafka, `${run}-task-${p}`)),
    )
    const [kept, looked] = [[] as number[], [] as number[]]
    try {
      await round(producers, topic, `${run}-group`, 2_000, [])
      const load = loadavg()[0] ?? 0
      for (let r = 0; r < rounds; r++) {
        for (const cached of r % 2 === 0 ? [true, false] : [false, true]) {
          setCoordinatorCache(cached)
          await round(producers, topic, `${run}-group`, roundMs, cached ? kept : looked)
        }
      }
      setCoordinatorCache(true)
      const seconds = (rounds * roundMs) / 1000
      const [k, l] = [percentiles(kept), percentiles(looked)]
      const figs: BenchFigure[] = [
        ...(['p50', 'p99'] as const).map((q) =>
          against('transaction, coordinators kept', k[q], `ms ${q}`, {
            label: 'transaction, kafkajs looks them up',
            value: l[q],
          }),
        ),
        against('transactions/s, coordinators kept', kept.length / seconds, 'transactions/s', {
          label: 'transactions/s, kafkajs looks them up',
          value: looked.length / seconds,
        }),
      ]
      const text = [
        `coordinators: ${count} task producers committing at once (1 record + offsets each), ${rounds} alternating rounds of ${roundMs / 1000} s per kind, load average ${load.toFixed(1)}`,
        ...figs.map(
          (f) =>
            `  ${f.label}  ${f.value.toFixed(1)} ${f.unit}  = ${f.ratio?.toFixed(2)} x kafkajs' lookup`,
        ),
      ].join('\n')
      return { text, figures: figs }
    } finally {
      setCoordinatorCache(true)
      for (const producer of producers) await producer.disconnect().catch(() => {})
    }
  })
}
