// Peak-shaving benchmark: the receiver with shaping takes steady 1:1 chats and LOW traffic,
// first alone (the baseline), then beside a flood from one 10,000-member group at 10x the
// capacity, in the same run on the same receiver. Reports accepted/throttled per class and
// the 1:1 latency (written to im.ingest -> receipt read) of both phases as a ratio.
// Usage: npm run bench -- shaping (IMFLOW_BENCH_SECONDS per phase, IMFLOW_BENCH_CAPACITY per
// task, IMFLOW_BENCH_FLOOD_MEMBERS to vary the scenario).

import { join } from 'node:path'
import { Partitioners } from 'kafkajs'
import { createTopicsAndWait } from '../ops/kafka-admin.js'
import { memorySchemaSource } from '../schemas/schema-source.js'
import { startTopology } from '../topologies/runtime/index.js'
import { partitionForKey } from '../topologies/runtime/partitioner.js'
import { committed, waitFor, withBroker } from './broker.js'
import { percentiles } from './latency.js'
import {
  type Answer,
  FLOOD,
  FLOOD_MEMBERS,
  type Handed,
  type Kind,
  rigCodecs,
  rigConversations,
  rigReceiver,
  rigTopics,
  runLoad,
  type Sent,
  watchHandOffs,
  watchReceipts,
} from './shaping-rig.js'

const PARTITIONS = 4
/** Per task; low enough that the flood's hand-offs stay under Kafka's 1 MiB request limit. */
const CAPACITY = Number(process.env.IMFLOW_BENCH_CAPACITY ?? 10)
const DEADLINE_MS = 10_000
const SECONDS = Number(process.env.IMFLOW_BENCH_SECONDS ?? 20)
const DMS = 40
const CALM = { seconds: SECONDS, floodPerSec: 0, dmPerSec: 10, lowPerSec: 4, dms: DMS }

export function shapingBench(): Promise<string> {
  return withBroker(async ({ kafka, admin, dir, quiet, run }) => {
    const topics = rigTopics(`${run}-`)
    await createTopicsAndWait(
      admin,
      Object.values(topics).map((topic) => ({ topic, numPartitions: PARTITIONS })),
    )
    const codecs = await rigCodecs(memorySchemaSource(), topics)
    const receiver = await startTopology(
      rigReceiver(topics, codecs, {
        capacity: CAPACITY,
        lowDeadlineMs: DEADLINE_MS,
        partitions: PARTITIONS,
      }),
      { kafka, appId: run, stateDir: join(dir, 'receiver'), log: quiet },
    )
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    const floodProducer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await floodProducer.connect()
    const events = rigConversations(DMS)
    await producer.send({
      topic: topics.conversations,
      messages: events.map((e) => ({
        key: e.conversationId,
        value: codecs.conversationEvent.encode(e),
      })),
    })
    await waitFor(
      async () =>
        (await committed(admin, `${run}-receiver`, topics.conversations)) >= events.length,
    )
    const answers = new Map<string, Answer[]>()
    const handed: Handed[] = []
    const readers = [
      await watchReceipts(kafka, topics, codecs, `${run}-receipts`, answers),
      await watchHandOffs(kafka, topics, codecs, `${run}-handoffs`, handed, { skipFlood: true }),
    ]
    const phase = async (tag: string, floodPerSec: number) => {
      const sent = await runLoad(
        { chat: producer, flood: floodProducer },
        topics.ingest,
        codecs.sendMessage,
        {
          ...CALM,
          floodPerSec,
          tag,
        },
      )
      await waitFor(async () => sent.every((s) => answers.has(s.clientMsgId)), 300_000)
      return sent
    }
    // The baseline is measured before and after the flood, so drift in the machine's load
    // (a shared one) does not count as the flood's effect.
    const calm = [...(await phase('calm', 0))]
    const flood = await phase('flood', 10 * CAPACITY)
    calm.push(...(await phase('calm-after', 0)))
    // Every LOW message of both phases handed off (the flood's may wait for their deadline).
    const lowIds = [...calm, ...flood]
      .filter((s) => s.kind === 'low')
      .map((s) => answers.get(s.clientMsgId)?.[0]?.outcome)
      .flatMap((o) => (o?.kind === 'Accepted' ? [o] : []))
    await waitFor(
      async () => lowIds.every((o) => handed.some((h) => h.msgId === o.msgId)),
      DEADLINE_MS * 3,
    )
    for (const r of readers) await r.disconnect()
    await receiver.stop()
    await producer.disconnect()
    await floodProducer.disconnect()
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => {})

    const latency = (sent: readonly Sent[]) =>
      percentiles(
        sent
          .filter((s) => s.kind === 'dm')
          .map((s) => (answers.get(s.clientMsgId)?.[0]?.at ?? Number.NaN) - s.at),
      )
    const count = (sent: readonly Sent[], kind: Kind) => {
      const outcomes = sent
        .filter((s) => s.kind === kind)
        .map((s) => answers.get(s.clientMsgId)?.[0]?.outcome.kind)
      return {
        sent: outcomes.length,
        accepted: outcomes.filter((k) => k === 'Accepted').length,
        throttled: outcomes.filter((k) => k === 'Throttled').length,
      }
    }
    const lateness = lowIds.map((o) => {
      const first = handed.find((h) => h.msgId === o.msgId) as Handed
      return first.timestamp - o.createdAt
    })
    const before = latency(calm)
    const during = latency(flood)
    const floodPartition = partitionForKey(FLOOD, PARTITIONS)
    const sharing = latency(
      flood.filter((s) => partitionForKey(s.conversationId, PARTITIONS) === floodPartition),
    )
    const apart = latency(
      flood.filter((s) => partitionForKey(s.conversationId, PARTITIONS) !== floodPartition),
    )
    const row = (name: string, c: ReturnType<typeof count>) =>
      `  ${name.padEnd(34)} sent ${String(c.sent).padStart(5)}  accepted ${String(c.accepted).padStart(5)}  throttled ${String(c.throttled).padStart(5)}`
    const floodCount = count(flood, 'flood')
    return [
      `shaping: capacity ${CAPACITY} messages/s per task, ${PARTITIONS} partitions, ${SECONDS} s per phase, LOW deadline ${DEADLINE_MS / 1000} s, one broker`,
      row(`flood (${FLOOD_MEMBERS} members, ${10 * CAPACITY}/s)`, floodCount),
      row('1:1 chats, HIGH (10/s)', count([...calm, ...flood], 'dm')),
      row('LOW (4/s)', count([...calm, ...flood], 'low')),
      `  flood accepted: ${(floodCount.accepted / SECONDS).toFixed(1)} messages/s = ${(floodCount.accepted / SECONDS / CAPACITY).toFixed(2)} x capacity`,
      `  1:1 latency without the flood (baseline, before and after)  p50 ${before.p50.toFixed(0)} ms  p99 ${before.p99.toFixed(0)} ms`,
      `  1:1 latency during the flood                                p50 ${during.p50.toFixed(0)} ms  p99 ${during.p99.toFixed(0)} ms  = ${(during.p50 / before.p50).toFixed(2)} x (p50), ${(during.p99 / before.p99).toFixed(2)} x (p99)`,
      `    on the flood's partition p50 ${sharing.p50.toFixed(0)} ms (${sharing.count}), on the others p50 ${apart.p50.toFixed(0)} ms (${apart.count})`,
      `  LOW handed off after acceptance: max ${Math.max(...lateness)} ms = ${(Math.max(...lateness) / DEADLINE_MS).toFixed(2)} x the deadline`,
    ].join('\n')
  })
}
