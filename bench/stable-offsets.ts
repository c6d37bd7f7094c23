// The cost of reading committed offsets with require_stable (KIP-447): imflow's OffsetFetch v7
// (ops/kafkajs-stable-offsets.ts, one partition asked for, as a task opening does) against
// kafkajs' own admin.fetchOffsets (v4, every partition, no require_stable). One admin, one
// group with committed offsets and no open transaction, the two kinds alternating in rounds
// (the order flipped each round) so the broker's and the machine's drift fall on both alike.

import type { Admin } from 'kafkajs'
import { createTopicsAndWait } from '../ops/kafka-admin.js'
import { fetchStableOffsets } from '../ops/kafkajs-stable-offsets.js'
import { withBroker } from './broker.js'
import { percentiles } from './latency.js'
import { against, type BenchFigure, type BenchResult } from './result.js'

type Read = (admin: Admin) => Promise<unknown>

export async function stableOffsetsBench(): Promise<BenchResult> {
  const perKind = Number(process.env.IMFLOW_BENCH_READS ?? 500)
  return withBroker(async ({ admin, run }) => {
    const [topic, groupId] = [`${run}-stable-in`, `${run}-stable`]
    await createTopicsAndWait(admin, [{ topic, numPartitions: 4 }])
    const partitions = [0, 1, 2, 3].map((partition) => ({ partition, offset: '7' }))
    await admin.setOffsets({ groupId, topic, partitions })
    const kinds: [number[], Read][] = [
      [[], (a) => fetchStableOffsets(a, { groupId, topics: [topic], partitions: [1] })],
      [[], (a) => a.fetchOffsets({ groupId, topics: [topic] })],
    ]
    for (let i = 0; i < 20; i++) await kinds[i % 2]?.[1](admin)
    const roundSize = 25
    for (let n = 0, round = 0; n < perKind; n += roundSize, round++) {
      for (const [times, read] of round % 2 === 0 ? kinds : [...kinds].reverse()) {
        for (let i = 0; i < roundSize; i++) {
          const start = performance.now()
          await read(admin)
          times.push(performance.now() - start)
        }
      }
    }
    const [stable, plain] = kinds.map(([t]) => percentiles(t))
    const figs: BenchFigure[] = (['p50', 'p99'] as const).map((q) =>
      against('read with OffsetFetch v7 require_stable', stable?.[q] ?? 0, `ms ${q}`, {
        label: "read with kafkajs' fetchOffsets (v4)",
        value: plain?.[q] ?? 0,
      }),
    )
    const lines = figs.map(
      (f) => `  ${f.label}  ${f.value.toFixed(2)} ${f.unit}  = ${f.ratio?.toFixed(2)} x kafkajs'`,
    )
    const text = [
      `stable offsets: ${perKind} reads of each kind, no transaction open, alternating rounds of ${roundSize}`,
      ...lines,
    ].join('\n')
    return { text, figures: figs }
  })
}
