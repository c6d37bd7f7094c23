// Stream threads: the whole app (`imflow start`: receiver, inbox, sync, merge, shaping) run as
// one process and then as two (IMFLOW_STREAM_THREADS=2) on the same broker in the same run,
// with the seeds' workload shape (lognormal senders, ~30 recipients a message). Reports
// messages/s from the first produce until every topology has caught up (the receiver with
// im.ingest, inbox and sync with the hand-off), and the ratio of two processes to one.
// Usage: npm run bench -- threads   (IMFLOW_BENCH_MESSAGES, default 5,000; IMFLOW_BENCH_CPU_PROF)

import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import type { Admin, Kafka } from 'kafkajs'
import { freePort } from '../ops/ports.js'
import { registerContract } from '../schemas/contract.js'
import { registrySchemaSource } from '../schemas/schema-source.js'
import { committed, topicEnds, waitFor, withBroker } from './broker.js'
import { against, type BenchResult } from './result.js'
import { imWorkload } from './workload.js'
import { workloadRecords } from './workload-records.js'

const MESSAGES = Number(process.env.IMFLOW_BENCH_MESSAGES ?? 5_000)
const PARTITIONS = 4
const progress = (line: string) => process.stderr.write(`threads: ${line}\n`)

/** `imflow start` in a process of its own, ready; its registry's URL. */
async function startCli(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; registry: string }> {
  const port = await freePort()
  const registryPort = await freePort()
  const registry =
    process.env.SCHEMA_REGISTRY_URL ?? `http://127.0.0.1:${registryPort}/apis/ccompat/v7`
  // IMFLOW_BENCH_CPU_PROF=<dir>: each app process writes a V8 CPU profile there as it stops.
  const profile = process.env.IMFLOW_BENCH_CPU_PROF
  const flags = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', 'ops/app/bin.ts', 'start'], {
    env: {
      ...process.env,
      ...env,
      IMFLOW_PORT: String(port),
      IMFLOW_REGISTRY_PORT: String(registryPort),
      IMFLOW_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`imflow start exited with ${child.exitCode}`)
    const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined)
    return res?.status === 200
  }, 300_000)
  return { child, registry }
}

async function stopCli(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  await exited
}

/** Runs the workload through an app of `threads` processes; messages/s until all caught up. */
async function throughput(
  kafka: Kafka,
  brokers: string[],
  admin: Admin,
  dir: string,
  run: string,
  threads: number,
): Promise<number> {
  const prefix = `${run}-t${threads}.`
  const { child, registry } = await startCli({
    KAFKA_BROKERS: brokers.join(','),
    IMFLOW_TOPIC_PREFIX: prefix,
    IMFLOW_DATA_DIR: join(dir, `t${threads}`),
    IMFLOW_PARTITIONS: String(PARTITIONS),
    IMFLOW_STREAM_THREADS: String(threads),
  })
  try {
    const codecs = await registerContract(registrySchemaSource(registry), prefix)
    const workload = imWorkload({ users: 20_000, groups: 2_000, messages: MESSAGES })
    const { groups, records } = workloadRecords(codecs, workload)
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({ topic: `${prefix}im.conversations`, messages: groups })
    const fanout = `${prefix}imflow-fanout`
    const caughtUp = async (ingestTotal: number) => {
      if ((await committed(admin, `${prefix}imflow-receiver`, `${prefix}im.ingest`)) < ingestTotal)
        return false
      const end = await topicEnds(admin, fanout)
      return (
        (await committed(admin, `${prefix}imflow-inbox`, fanout)) >= end &&
        (await committed(admin, `${prefix}imflow-sync`, fanout)) >= end
      )
    }
    // The groups' creation (membership events for every member) is done before the clock.
    await waitFor(() => caughtUp(0))
    const started = Date.now()
    for (let i = 0; i < records.length; i += 1_000) {
      await producer.send({ topic: `${prefix}im.ingest`, messages: records.slice(i, i + 1_000) })
    }
    await producer.disconnect()
    await waitFor(() => caughtUp(MESSAGES))
    const rate = MESSAGES / ((Date.now() - started) / 1000)
    progress(`${threads} process(es): ${rate.toFixed(0)} messages/s`)
    return rate
  } finally {
    await stopCli(child)
  }
}

export function threadsBench(): Promise<BenchResult> {
  return withBroker(async ({ kafka, brokers, admin, dir, run }) => {
    const one = await throughput(kafka, brokers, admin, dir, run, 1)
    const two = await throughput(kafka, brokers, admin, dir, run, 2)
    const base = { label: 'imflow start, 1 process', value: one }
    return {
      text: [
        `threads: the whole app on the seeds' workload (${MESSAGES} messages, ~30 recipients each, ${PARTITIONS} partitions), until every topology caught up; app and broker on this machine`,
        `  1 process (IMFLOW_STREAM_THREADS=1)    ${one.toFixed(0)} messages/s`,
        `  2 processes (IMFLOW_STREAM_THREADS=2)  ${two.toFixed(0)} messages/s  = ${(two / one).toFixed(2)} x one process`,
      ].join('\n'),
      figures: [
        { label: base.label, value: one, unit: 'messages/s' },
        against('imflow start, 2 processes', two, 'messages/s', base),
      ],
    }
  })
}
