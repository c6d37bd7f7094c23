// Replay benchmark: how fast `imflow replay --into` reprocesses a log, against the same run's
// raw kafkajs pass-through of those records (consume -> produce, no state, no transactions)
// and against the topologies' live throughput on the same traffic (the app consuming it as it
// was produced). The whole app runs (every topology: receiver, inbox, sync, merge...), on
// KAFKA_BROKERS or embedded servers. Usage: npm run bench -- replay

import type { Admin, Kafka } from 'kafkajs'
import { runReplay } from '../ops/app/commands/replay/run-replay.js'
import { connect } from '../ops/app/commands/replay/tool-config.js'
import { createTopicsAndWait } from '../ops/kafka-admin.js'
import { createLogger } from '../ops/log.js'
import { type ContractCodecs, registerContract } from '../schemas/contract.js'
import { registrySchemaSource } from '../schemas/schema-source.js'
import { waitFor } from './broker.js'
import { startLatencyApp } from './latency-app.js'
import { against, type BenchResult } from './result.js'
import { imWorkload } from './workload.js'
import { workloadRecords } from './workload-records.js'

const MESSAGES = Number(process.env.IMFLOW_BENCH_MESSAGES ?? 5_000)

export async function replayBench(): Promise<BenchResult> {
  const live = await startLatencyApp('replay')
  try {
    const { app, config, kafka } = live
    const codecs = await registerContract(
      registrySchemaSource(app.infrastructure.schemaRegistryUrl),
      config.topicPrefix,
    )
    const topic = (base: string) => `${config.topicPrefix}${base}`
    const { groups, averageFanOut, records } = traffic(codecs)
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    await producer.send({ topic: topic('im.conversations'), messages: groups })
    const admin = kafka.admin()
    await admin.connect()
    const settled = () => allCaughtUp(admin, `${config.topicPrefix}${config.appId}`)

    // 1. Live: the app consumes the messages as they are produced, to the last hand-off.
    const liveStart = Date.now()
    for (let i = 0; i < records.length; i += 1_000)
      await producer.send({ topic: topic('im.ingest'), messages: records.slice(i, i + 1_000) })
    await waitFor(settled)
    const liveSeconds = (Date.now() - liveStart) / 1000

    // 2. Baseline: the same ingest records consumed and produced on by raw kafkajs.
    const passOut = topic('replay-pass-out')
    await createTopicsAndWait(admin, [{ topic: passOut, numPartitions: config.partitions }])
    const passSeconds = await passThrough(kafka, topic('im.ingest'), passOut, MESSAGES)

    // 3. The replay: into a new app id beside the live one (which keeps running).
    const deployment = await connect(
      {
        ...config,
        kafkaBrokers: app.infrastructure.kafkaBrokers,
        schemaRegistryUrl: app.infrastructure.schemaRegistryUrl,
      },
      createLogger('warn'),
    )
    const result = await runReplay(deployment, {
      from: { kind: 'offset', offset: 0 },
      topologies: ['inbound', 'receiver', 'inbox', 'sync', 'merge-index', 'merge'],
      into: `${config.appId}-shadow`,
      write: () => {},
    })
    await deployment.close()
    await producer.disconnect()
    await admin.disconnect()
    const replaySeconds = result.elapsedMs / 1000
    const replayed = result.final?.done ?? 0

    const passRate = MESSAGES / passSeconds
    const liveRate = MESSAGES / liveSeconds
    const replayRate = replayed / replaySeconds
    const pass = { label: 'raw kafkajs pass-through', value: passRate }
    const liveBase = { label: 'topologies live', value: liveRate }
    const text = [
      `replay: ${MESSAGES} messages in ${groups.length} groups (average fan-out ${averageFanOut.toFixed(1)}), ${config.partitions} partitions, every topology`,
      `  raw kafkajs pass-through (baseline)      ${Math.round(passRate)} records/s`,
      `  topologies live (as produced)            ${Math.round(liveRate)} messages/s  = ${(liveRate / passRate).toFixed(2)} x pass-through`,
      `  replay --into (${replayed} records, start to end)  ${Math.round(replayRate)} records/s  = ${(replayRate / passRate).toFixed(2)} x pass-through`,
      `  replay / live                            = ${(replayRate / liveRate).toFixed(2)} x live`,
    ].join('\n')
    return {
      text,
      figures: [
        { label: pass.label, value: passRate, unit: 'records/s' },
        against('topologies live', liveRate, 'messages/s', pass),
        against('replay --into', replayRate, 'records/s', pass),
        against('replay --into vs live', replayRate, 'records/s', liveBase),
      ],
    }
  } finally {
    await live.stop()
  }
}

/** Small groups (a fresh replay reads their table first) and the seeds' send rates. */
function traffic(codecs: ContractCodecs) {
  const workload = imWorkload({ users: 5_000, groups: 500, messages: MESSAGES })
  return { ...workloadRecords(codecs, workload), averageFanOut: workload.averageFanOut }
}

/** Seconds for raw kafkajs to consume `count` records of `from` and produce them to `to`. */
export async function passThrough(kafka: Kafka, from: string, to: string, count: number) {
  let passed = 0
  const started = Date.now()
  const consumer = kafka.consumer({ groupId: `${to}-reader`, maxWaitTimeInMs: 50 })
  const producer = kafka.producer()
  await Promise.all([consumer.connect(), producer.connect()])
  await consumer.subscribe({ topic: from, fromBeginning: true })
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (let i = 0; i < batch.messages.length; i += 1_000) {
        await producer.send({
          topic: to,
          messages: batch.messages
            .slice(i, i + 1_000)
            .map((m) => ({ key: m.key, value: m.value, partition: batch.partition })),
        })
      }
      passed += batch.messages.length
    },
  })
  await waitFor(async () => passed >= count)
  const seconds = (Date.now() - started) / 1000
  await Promise.all([consumer.disconnect(), producer.disconnect()])
  return seconds
}

/** Every group of the app id has committed to the end of every topic it reads. */
async function allCaughtUp(admin: Admin, runtimeId: string): Promise<boolean> {
  const groups = (await admin.listGroups()).groups.filter((g) =>
    g.groupId.startsWith(`${runtimeId}-`),
  )
  for (const { groupId } of groups) {
    for (const t of await admin.fetchOffsets({ groupId })) {
      const ends = await admin.fetchTopicOffsets(t.topic)
      for (const p of t.partitions) {
        const end = Number(ends.find((e) => e.partition === p.partition)?.high ?? 0)
        if (Number(p.offset) < end) return false
      }
    }
  }
  return groups.length > 0
}
