// Runtime benchmark, on one broker in one run:
//   1. raw kafkajs consume -> produce pass-through (the baseline),
//   2. the runtime's count-by-key topology: RocksDB store, changelog, exactly-once; as
//      shipped (100 ms commits, as Kafka Streams under exactly-once, a 10 MiB cache, the counts
//      a table's changes), without the cache, with every count emitted, and committing every
//      slice as imflow's own topologies do,
//   3. the same count in Kafka Streams (bench/peers/kafka-streams), cache on and off,
//   4. the restore rate of that store from its changelog.
// IMFLOW_BENCH_RECORDS and IMFLOW_BENCH_KEYS set the records and keys (100,000 and 10,000),
// IMFLOW_COMMIT_INTERVAL_MS imflow's commit interval, IMFLOW_TRANSACTION_SCOPE its scope.
// Uses KAFKA_BROKERS when set, else starts an embedded broker. Usage: npm run bench -- runtime

import { join } from 'node:path'
import { loadConfig } from '../ops/app/config.js'
import { createTopicsAndWait } from '../ops/kafka-admin.js'
import { createLogger } from '../ops/log.js'
import {
  DEFAULT_COMMIT_INTERVAL_MS,
  type RunnerOptions,
  startTopology,
} from '../topologies/runtime/index.js'
import { committed, fillKeyed, topicEnds, waitFor, withBroker } from './broker.js'
import { countTopology } from './count-topology.js'
import { kafkaStreamsRates } from './peers/kafka-streams.js'

const RECORDS = Number(process.env.IMFLOW_BENCH_RECORDS ?? 100_000)
/** imflow's commit interval for this run (IMFLOW_COMMIT_INTERVAL_MS); default: the runtime's. */
const COMMIT_INTERVAL_MS = process.env.IMFLOW_COMMIT_INTERVAL_MS
  ? Number(process.env.IMFLOW_COMMIT_INTERVAL_MS)
  : undefined
/** Rounds of the imflow setups (IMFLOW_BENCH_ROUNDS), each in a rotated order; medians reported. */
const ROUNDS = Number(process.env.IMFLOW_BENCH_ROUNDS ?? 1)
const PARTITIONS = 4
const KEYS = Number(process.env.IMFLOW_BENCH_KEYS ?? 10_000)

export function runtimeBench(): Promise<string> {
  // As shipped: the configuration's defaults, and IMFLOW_TRANSACTION_SCOPE checked before
  // anything runs, as the app checks it.
  const defaults = loadConfig({ IMFLOW_TRANSACTION_SCOPE: process.env.IMFLOW_TRANSACTION_SCOPE })
  return withBroker(async ({ kafka, admin, dir, quiet, run }) => {
    const [input, passOut, countOut] = ['in', 'pass-out', 'count-out'].map(
      (t) => `${run}-${t}`,
    ) as [string, string, string]
    /** Changelogs and the peer's internal topics, deleted with the rest. */
    const internal: string[] = []
    try {
      await createTopicsAndWait(
        admin,
        [input, passOut, countOut].map((topic) => ({ topic, numPartitions: PARTITIONS })),
      )
      await fillKeyed(kafka, input, RECORDS, KEYS, (i) => `event-${i}`)
      const producer = kafka.producer()
      await producer.connect()

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

      // 2. The runtime: stateful count with changelog and exactly-once, in four setups.
      const outputs = () => topicEnds(admin, countOut)
      const count = async (name: string, options: Partial<RunnerOptions>, latestPerKey = true) => {
        const appId = `${run}-${name}`
        const before = await outputs()
        const started = Date.now()
        const running = await startTopology(countTopology(input, countOut, { latestPerKey }), {
          kafka,
          appId,
          stateDir: join(dir, `state-${name}`),
          log: quiet,
          transactionScope: defaults.transactionScope,
          ...options,
        })
        await waitFor(async () => (await committed(admin, `${appId}-count`, input)) >= RECORDS)
        const seconds = (Date.now() - started) / 1000
        await running.stop()
        const changelog = `${appId}-count-counts-changelog`
        internal.push(changelog)
        return {
          rate: RECORDS / seconds,
          changelog: await topicEnds(admin, changelog),
          outputs: (await outputs()) - before,
        }
      }
      const commitIntervalMs = COMMIT_INTERVAL_MS ?? defaults.commitIntervalMs
      const { shipped, uncached, everyCount, perSlice, rounds } = await countRounds(
        count,
        commitIntervalMs,
        defaults.cacheMaxBytes,
      )
      const topology = countTopology(input, countOut)
      const peers = await kafkaStreamsRates(admin, {
        run,
        dir,
        input,
        output: countOut,
        records: RECORDS,
      })
      internal.push(...peers.topics)

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
        appId: `${run}-shipped-0`,
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
      const commits = `${commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS} ms commits`
      const line = (name: string, r: { rate: number; changelog?: number; outputs?: number }) =>
        `  ${name.padEnd(52)} ${String(Math.round(r.rate)).padStart(7)} records/s  ${(r.rate / pass).toFixed(2)} x pass-through${r.changelog === undefined ? '' : `, changelog offsets ${r.changelog}`}${r.outputs === undefined ? '' : `, outputs ${r.outputs}`}`
      const versus = (name: string, a: number, b: number) =>
        `  ${name.padEnd(52)} ${(a / b).toFixed(2)}`
      return [
        `runtime: ${RECORDS} records, ${PARTITIONS} partitions, ${KEYS} keys, one broker`,
        line('kafkajs pass-through (baseline)', { rate: pass }),
        line(`imflow count, ${commits}, 10 MiB cache (shipped)`, shipped),
        line(`imflow count, ${commits}, no cache`, uncached),
        line(`imflow count, ${commits}, cache, every count out`, everyCount),
        line('imflow count, a commit per slice, 10 MiB cache', perSlice),
        line('Kafka Streams count, 10 MiB cache (shipped)', peers.cached),
        line('Kafka Streams count, no cache', peers.uncached),
        versus('imflow / Kafka Streams, as shipped', shipped.rate, peers.cached.rate),
        versus('imflow / Kafka Streams, both without cache', uncached.rate, peers.uncached.rate),
        versus('imflow / Kafka Streams, every count out', everyCount.rate, peers.cached.rate),
        versus('imflow / Kafka Streams, commit per slice', perSlice.rate, peers.cached.rate),
        ...rounds,
        `  ${'restore from changelog'.padEnd(52)} ${Math.round(restoredRecords / restoreSeconds)} records/s (${restoredRecords} records)`,
      ].join('\n')
    } finally {
      await admin.deleteTopics({ topics: [input, passOut, countOut, ...internal] }).catch(() => {})
    }
  })
}

interface CountRate {
  rate: number
  changelog: number
  outputs: number
}

type Count = (
  name: string,
  options: Partial<RunnerOptions>,
  latestPerKey?: boolean,
) => Promise<CountRate>

/**
 * The imflow setups, ROUNDS times, each round starting one setup later (a busy machine's
 * slow minute then falls on each in turn); each setup's run with the median rate.
 */
async function countRounds(
  count: Count,
  commitIntervalMs: number | undefined,
  cacheMaxBytes: number,
) {
  const setups = {
    // As shipped: the runtime's defaults (100 ms commits, Kafka Streams' under exactly-once,
    // a 10 MiB cache), the counts a table's changes, as count().toStream() in Kafka Streams.
    shipped: (name: string) => count(name, { commitIntervalMs, cacheMaxBytes }),
    // Like for like with Kafka Streams without its cache: every count goes out.
    uncached: (name: string) => count(name, { commitIntervalMs, cacheMaxBytes: 0 }),
    // The cache's share of the first: the changelog merged, every count emitted.
    everyCount: (name: string) => count(name, { commitIntervalMs, cacheMaxBytes }, false),
    // What imflow's own topologies do, as pushes wait on them: a commit per slice.
    perSlice: (name: string) => count(name, { commitIntervalMs: 0, cacheMaxBytes }),
  }
  const names = Object.keys(setups) as (keyof typeof setups)[]
  const rates = new Map(names.map((n) => [n, [] as CountRate[]]))
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length] as keyof typeof setups
      rates.get(name)?.push(await setups[name](`${name}-${round}`))
    }
  }
  const median = (name: keyof typeof setups) => {
    const sorted = [...(rates.get(name) ?? [])].sort((a, b) => a.rate - b.rate)
    return sorted[Math.floor((sorted.length - 1) / 2)] as CountRate
  }
  const round = (n: keyof typeof setups) =>
    `  ${n} rounds: ${rates
      .get(n)
      ?.map((r) => Math.round(r.rate))
      .join(', ')} records/s`
  return {
    /** Every round's rate per setup, when there were rounds to choose from. */
    rounds: ROUNDS > 1 ? names.map(round) : [],
    shipped: median('shipped'),
    uncached: median('uncached'),
    everyCount: median('everyCount'),
    perSlice: median('perSlice'),
  }
}
