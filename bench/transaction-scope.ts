// One transaction per task (a producer per input partition) against one per stream thread (one
// producer for all of a runner's tasks, IMFLOW_TRANSACTION_SCOPE=thread), same broker, same run.
// The topology is the runtime at its simplest with state: each record stored (RocksDB, a
// changelog) and sent on, exactly once, over P partitions (IMFLOW_BENCH_PARTITIONS, default 12,
// the large-group path's tasks at 4 partitions). Two measures, each scope in turn, the order
// flipped each round (IMFLOW_BENCH_ROUNDS, default 2):
//   - latency at a fixed rate (IMFLOW_BENCH_RATE records/s, default 200, for
//     IMFLOW_BENCH_SECONDS, default 10): from the send to the output read read_committed;
//   - throughput on a backlog (IMFLOW_BENCH_RECORDS, default 50,000): records/s until the
//     group has committed them all.
// Usage: npm run bench -- transaction-scope

import { loadavg } from 'node:os'
import { join } from 'node:path'
import { createTopicsAndWait } from '../ops/kafka-admin.js'
import {
  defineTopology,
  type RunnerOptions,
  startTopology,
  type TransactionScope,
} from '../topologies/runtime/index.js'
import { type BenchBroker, committed, fillKeyed, waitFor, withBroker } from './broker.js'
import { nowMs, paced, percentiles } from './latency.js'
import { against, type BenchResult } from './result.js'

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const PARTITIONS = env('IMFLOW_BENCH_PARTITIONS', 12)
const ROUNDS = env('IMFLOW_BENCH_ROUNDS', 2)
const RATE = env('IMFLOW_BENCH_RATE', 200)
const SECONDS = env('IMFLOW_BENCH_SECONDS', 10)
const RECORDS = env('IMFLOW_BENCH_RECORDS', 50_000)
/** Samples from the first second are left out: tasks still opening. */
const WARM_UP_MS = 1_000

/** Stores each record's value under its key and sends it on: state, a changelog, an output. */
const storeAndForward = (input: string, output: string) =>
  defineTopology({
    name: 'forward',
    sources: [{ topic: input }],
    sinks: { out: { topic: output, partitionBy: 'task' } },
    stores: ['last'],
    processor: (context) => ({
      async process(record) {
        const value = Buffer.from(record.value as Buffer)
        context.store('last').put(record.key ?? Buffer.from(''), value)
        context.send('out', { key: record.key, value })
      },
    }),
  })

type Run = BenchBroker & { name: string; scope: TransactionScope }

async function topics(broker: BenchBroker, name: string): Promise<[string, string]> {
  const pair = [`${broker.run}-${name}-in`, `${broker.run}-${name}-out`] as [string, string]
  await createTopicsAndWait(
    broker.admin,
    pair.map((topic) => ({ topic, numPartitions: PARTITIONS })),
  )
  return pair
}

function start(run: Run, input: string, output: string, options: Partial<RunnerOptions> = {}) {
  return startTopology(storeAndForward(input, output), {
    kafka: run.kafka,
    appId: `${run.run}-${run.name}`,
    stateDir: join(run.dir, run.name),
    log: run.quiet,
    transactionScope: run.scope,
    ...options,
  })
}

/** Send -> output latencies (ms) at RATE records/s for SECONDS. */
async function latencies(run: Run): Promise<number[]> {
  const [input, output] = await topics(run, run.name)
  const running = await start(run, input, output)
  const samples: number[] = []
  let received = 0
  const reader = run.kafka.consumer({
    groupId: `${run.run}-${run.name}-reader`,
    maxWaitTimeInMs: 10,
  })
  const producer = run.kafka.producer()
  try {
    await reader.connect()
    await reader.subscribe({ topic: output, fromBeginning: true })
    await reader.run({
      eachMessage: async ({ message }) => {
        received++
        const sent = Number(message.value?.toString())
        if (sent >= startedAt + WARM_UP_MS) samples.push(nowMs() - sent)
      },
    })
    await waitFor(async () => running.healthy().ok)
    await producer.connect()
    const total = RATE * SECONDS
    const startedAt = nowMs()
    await paced(total, RATE, async (i) => {
      void producer.send({
        topic: input,
        messages: [{ key: `k${i % 1_000}`, value: String(nowMs()) }],
      })
    })
    await waitFor(async () => received >= total, 60_000)
  } finally {
    await producer.disconnect()
    await reader.disconnect()
    await running.stop()
  }
  return samples
}

/** Records/s through a backlog of RECORDS, until the group committed them all. */
async function throughput(run: Run): Promise<number> {
  const [input, output] = await topics(run, `${run.name}-backlog`)
  await fillKeyed(run.kafka, input, RECORDS, 10_000, (i) => String(i))
  const started = Date.now()
  const running = await start({ ...run, name: `${run.name}-backlog` }, input, output)
  try {
    const group = `${run.run}-${run.name}-backlog-forward`
    await waitFor(async () => (await committed(run.admin, group, input)) >= RECORDS)
  } finally {
    await running.stop()
  }
  return RECORDS / ((Date.now() - started) / 1000)
}

export function transactionScopeBench(): Promise<BenchResult> {
  return withBroker(async (broker) => {
    const samples = { task: [] as number[], thread: [] as number[] }
    const rates = { task: [] as number[], thread: [] as number[] }
    const loadBefore = loadavg()[0] ?? 0
    for (let r = 0; r < ROUNDS; r++) {
      const order: TransactionScope[] = r % 2 === 0 ? ['task', 'thread'] : ['thread', 'task']
      for (const scope of order) {
        const run = { ...broker, scope, name: `${scope}-${r}` }
        samples[scope].push(...(await latencies(run)))
        rates[scope].push(await throughput(run))
        process.stderr.write(`transaction-scope: round ${r + 1}, ${scope} done\n`)
      }
    }
    const loadAfter = loadavg()[0] ?? 0
    const [task, thread] = [percentiles(samples.task), percentiles(samples.thread)]
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length
    const figures = [
      ...(['p50', 'p99'] as const).map((q) =>
        against(`send -> output, a transaction per thread`, thread[q], `ms ${q}`, {
          label: 'send -> output, a transaction per task',
          value: task[q],
        }),
      ),
      against('backlog, a transaction per thread', mean(rates.thread), 'records/s', {
        label: 'backlog, a transaction per task',
        value: mean(rates.task),
      }),
    ]
    const text = [
      `transaction-scope: ${PARTITIONS} partitions (one runner), store + changelog + output, exactly once; ${ROUNDS} rounds, order flipped each round; load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after`,
      `  latency at ${RATE} records/s for ${SECONDS} s: per task p50 ${task.p50.toFixed(1)} ms, p99 ${task.p99.toFixed(1)} ms (${task.count}); per thread p50 ${thread.p50.toFixed(1)} ms, p99 ${thread.p99.toFixed(1)} ms (${thread.count})`,
      `  backlog of ${RECORDS}: per task ${rates.task.map((x) => x.toFixed(0)).join(', ')} records/s; per thread ${rates.thread.map((x) => x.toFixed(0)).join(', ')}`,
      ...figures.map(
        (f) => `  ${f.label}  ${f.value.toFixed(1)} ${f.unit} = ${(f.ratio ?? 0).toFixed(2)} x`,
      ),
    ].join('\n')
    return { text, figures }
  })
}
