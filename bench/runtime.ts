// Runtime benchmark, on one broker in one run:
//   1. raw kafkajs consume -> produce pass-through (the baseline),
//   2. the runtime's count-by-key topology: RocksDB store, changelog, exactly-once,
//   3. the restore rate of that store from its changelog.
// Uses KAFKA_BROKERS when set, else starts an embedded broker. Usage: npm run bench -- runtime

import { join } from 'node:path'
import { createTopicsAndWait } from '../ops/kafka-admin.js'
import { createLogger } from '../ops/log.js'
import { startTopology } from '../topologies/runtime/index.js'
import { committed, waitFor, withBroker } from './broker.js'
import { countTopology } from './count-topology.js'
import { against, type BenchResult } from './result.js'

const RECORDS = Number(process.env.IMFLOW_BENCH_RECORDS ?? 100_000)
const PARTITIONS = 4
const KEYS = 10_000

export function runtimeBench(): Promise<BenchResult> {
  return withBroker(async ({ kafka, admin, dir, quiet, run }) => {
    const [input, passOut, countOut] = ['in', 'pass-out', 'count-out'].map(
      (t) => `${run}-${t}`,
    ) as [string, string, string]
    try {
      await createTopicsAndWait(
        admin,
        [input, passOut, countOut].map((topic) => ({ topic, numPartitions: PARTITIONS })),
      )
      const producer = kafka.producer()
      await producer.connect()
      for (let start = 0; start < RECORDS; start += 10_000) {
        await producer.send({
          topic: input,
          messages: Array.from({ length: Math.min(10_000, RECORDS - start) }, (_, i) => ({
            key: `user-${(start + i) % KEYS}`,
            value: `event-${start + i}`,
          })),
        })
      }

      // 1. Pass-through: consume every record and produce it on, at-least-once.
      let passed = 0
      const passStart = Date.now()
      const consumer = kafka.consumer({ groupId: `${run}-pass`, maxWaitTimeInMs: 50 })
      await consumer.connect()
      await consumer.subscribe({ topic: input, fromBeginning: true })
      await consumer.run({
        eachBatch: async ({ batch }) => {
          // kafkajs encodes a huge send in quadratic time; 1,000-record sends (the runtime's
          // transaction size) keep the baseline at its best.
          for (let i = 0; i < batch.messages.length; i += 1_000) {
            await producer.send({
              topic: passOut,
              messages: batch.messages
                .slice(i, i + 1_000)
                .map((m) => ({ key: m.key, value: m.value, partition: batch.partition })),
            })
          }
          passed += batch.messages.length
        },
      })
      await waitFor(async () => passed >= RECORDS)
      const passSeconds = (Date.now() - passStart) / 1000
      await consumer.disconnect()
      await producer.disconnect()

      // 2. The runtime: stateful count with changelog and exactly-once.
      const groupId = `${run}-count`
      const consumed = () => committed(admin, groupId, input)
      const countStart = Date.now()
      const topology = countTopology(input, countOut)
      const running = await startTopology(topology, {
        kafka,
        appId: run,
        stateDir: join(dir, 'state-1'),
        log: quiet,
      })
      await waitFor(async () => (await consumed()) >= RECORDS)
      const countSeconds = (Date.now() - countStart) / 1000
      await running.stop()

      // 3. Restore: a new instance with an empty state folder rebuilds every store.
      const restored: { records: number; start: number; end: number }[] = []
      const watching = createLogger('info', (line) => {
        const m = /store restored .*records=(\d+) .*ms=(\d+)/.exec(line)
        const now = Date.now()
        if (m) restored.push({ records: Number(m[1]), start: now - Number(m[2]), end: now })
      })
      const more = kafka.producer()
      await more.connect()
      await more.send({
        topic: input,
        messages: Array.from({ length: PARTITIONS }, (_, p) => ({
          key: 'restore-probe',
          value: '',
          partition: p,
        })),
      })
      await more.disconnect()
      const again = await startTopology(topology, {
        kafka,
        appId: run,
        stateDir: join(dir, 'state-2'),
        log: watching,
      })
      await waitFor(async () => restored.length >= PARTITIONS)
      await again.stop()
      const restoredRecords = restored.reduce((s, r) => s + r.records, 0)
      // Tasks restore concurrently: the rate is over the wall time from first start to last end.
      const restoreSeconds =
        (Math.max(...restored.map((r) => r.end)) - Math.min(...restored.map((r) => r.start))) / 1000

      const pass = RECORDS / passSeconds
      const count = RECORDS / countSeconds
      const base = { label: 'kafkajs pass-through', value: pass }
      const text = [
        `runtime: ${RECORDS} records, ${PARTITIONS} partitions, ${KEYS} keys, one broker`,
        `  kafkajs pass-through (baseline)      ${Math.round(pass)} records/s`,
        `  count-by-key, RocksDB + changelog + EOS ${Math.round(count)} records/s  = ${(count / pass).toFixed(2)} x pass-through`,
        `  restore from changelog               ${Math.round(restoredRecords / restoreSeconds)} records/s (${restoredRecords} records)`,
      ].join('\n')
      return {
        text,
        figures: [
          { ...base, unit: 'records/s' },
          against('count-by-key, RocksDB + changelog + EOS', count, 'records/s', base),
          {
            label: 'restore from changelog',
            value: restoredRecords / restoreSeconds,
            unit: 'records/s',
          },
        ],
      }
    } finally {
      await admin.deleteTopics({ topics: [input, passOut, countOut] }).catch(() => {})
    }
  })
}
