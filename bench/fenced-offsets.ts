// The cost of fencing by the group generation (KIP-447): a transaction of one record and its
// offsets with imflow's TxnOffsetCommit v3 (ops/kafkajs-fenced-offsets.ts, the group's
// generation and member id on board) against kafkajs' own sendOffsets (v1, group id only).
// One producer, one group with a member in it, the two kinds alternating in rounds (the
// order flipped each round) so the broker's and the machine's drift fall on both alike.

import { Partitioners, type Producer, type Transaction } from 'kafkajs'
import { createTopicsAndWait } from '../ops/kafka-admin.js'
import { sendOffsetsWithGroupMetadata } from '../ops/kafkajs-fenced-offsets.js'
import { trackGroupGeneration } from '../ops/kafkajs-group-generation.js'
import type { GroupMetadata } from '../ops/txn-offset-commit-v3.js'
import { waitFor, withBroker } from './broker.js'
import { percentiles } from './latency.js'
import { against, type BenchFigure, type BenchResult } from './result.js'

type Offsets = (txn: Transaction, offset: string) => Promise<void>

interface Timings {
  transaction: number[]
  offsets: number[]
}

/** One transaction: a record, the offsets, the commit; the times of all and of the offsets. */
async function timed(producer: Producer, out: string, offsets: Offsets, n: number, t: Timings) {
  const start = performance.now()
  const txn = await producer.transaction()
  await txn.send({ topic: out, messages: [{ value: String(n), partition: 0 }] })
  const before = performance.now()
  await offsets(txn, String(n))
  t.offsets.push(performance.now() - before)
  await txn.commit()
  t.transaction.push(performance.now() - start)
}

function figures(v3: Timings, v1: Timings): BenchFigure[] {
  const out: BenchFigure[] = []
  for (const part of ['transaction', 'offsets'] as const) {
    const [mine, base] = [percentiles(v3[part]), percentiles(v1[part])]
    for (const q of ['p50', 'p99'] as const) {
      out.push(
        against(`${part} with TxnOffsetCommit v3 (fenced)`, mine[q], `ms ${q}`, {
          label: `${part} with kafkajs sendOffsets (v1)`,
          value: base[q],
        }),
      )
    }
  }
  return out
}

export async function fencedOffsetsBench(): Promise<BenchResult> {
  const perKind = Number(process.env.IMFLOW_BENCH_TRANSACTIONS ?? 300)
  return withBroker(async ({ kafka, admin, run }) => {
    const [topic, out, groupId] = [`${run}-fenced-in`, `${run}-fenced-out`, `${run}-fenced`]
    await createTopicsAndWait(admin, [
      { topic, numPartitions: 1 },
      { topic: out, numPartitions: 1 },
    ])
    const consumer = kafka.consumer({ groupId })
    const generation = trackGroupGeneration(consumer)
    await consumer.connect()
    await consumer.subscribe({ topic })
    await consumer.run({ autoCommit: false, eachMessage: async () => {} })
    const producer = kafka.producer({
      transactionalId: `${run}-fenced-producer`,
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      // As the runtime's (internal/kafka-io.ts): kafkajs' first retry of CONCURRENT_TRANSACTIONS
      // after a commit would otherwise wait 300 ms and decide the p99 of both kinds.
      retry: { initialRetryTime: 10, maxRetryTime: 1_000, retries: 12 },
    })
    await producer.connect()
    try {
      await waitFor(async () => generation.current() !== undefined, 120_000)
      const group = generation.current() as GroupMetadata
      const partitions = (offset: string) => [{ topic, partitions: [{ partition: 0, offset }] }]
      const kinds: [Timings, Offsets][] = [
        [
          { transaction: [], offsets: [] },
          (txn, offset) =>
            sendOffsetsWithGroupMetadata(txn, { ...group, topics: partitions(offset) }),
        ],
        [
          { transaction: [], offsets: [] },
          (txn, offset) =>
            txn.sendOffsets({ consumerGroupId: groupId, topics: partitions(offset) }),
        ],
      ]
      const warm: Timings = { transaction: [], offsets: [] }
      for (let i = 0; i < 20; i++) await timed(producer, out, kinds[i % 2]?.[1] as Offsets, i, warm)
      const roundSize = 25
      for (let n = 0, round = 0; n < perKind; n += roundSize, round++) {
        for (const [t, offsets] of round % 2 === 0 ? kinds : [...kinds].reverse()) {
          for (let i = 0; i < roundSize; i++) await timed(producer, out, offsets, n + i, t)
        }
      }
      const [v3, v1] = kinds.map(([t]) => t) as [Timings, Timings]
      const figs = figures(v3, v1)
      const lines = figs.map(
        (f) => `  ${f.label}  ${f.value.toFixed(1)} ${f.unit}  = ${f.ratio?.toFixed(2)} x kafkajs'`,
      )
      const text = [
        `fenced offsets: ${perKind} transactions of each kind (1 record + the offsets), alternating rounds of ${roundSize}, generation ${group.generationId}`,
        ...lines,
      ].join('\n')
      return { text, figures: figs }
    } finally {
      await producer.disconnect()
      generation.stop()
      await consumer.disconnect()
    }
  })
}
