// Large groups at the seeds' scale: G groups of M members, D devices online in each (one
// WebSocket per online member, in processes of their own: device-fleet.ts),
// messages produced to im.ingest at fixed rates per group. The path is ingest -> receiver -> im.rooms -> gateway -> device; the baseline is one
// raw kafkajs produce -> consume hop on the same broker in the same run. Reports deliveries/s,
// send -> device p50/p99 and the share delivered, at each rate.
// Usage: npm run bench -- bigroom   (IMFLOW_BENCH_GROUPS, IMFLOW_BENCH_MEMBERS,
// IMFLOW_BENCH_ONLINE, IMFLOW_BENCH_RATES per group in messages/s, IMFLOW_BENCH_SECONDS,
// IMFLOW_BENCH_FLEET=light|client and IMFLOW_BENCH_FLEET_PROCESSES (default 2) for the devices,
// IMFLOW_BENCH_AB below)

import { loadavg } from 'node:os'
import { type Kafka, Partitioners } from 'kafkajs'
import { setCoordinatorCache } from '../ops/kafkajs-coordinator-cache.js'
import type { EventCodec } from '../schemas/codec.js'
import { registerContract } from '../schemas/contract.js'
import { registrySchemaSource } from '../schemas/schema-source.js'
import type { RoomEvent } from '../schemas/types.generated.js'
import { waitFor } from './broker.js'
import { deviceFleet, timedBody } from './device-fleet.js'
import { nowMs, percentiles } from './latency.js'
import { startLatencyApp } from './latency-app.js'
import { childProcesses, cpuWindow } from './process-cpu.js'
import { rawHop } from './raw-hop.js'
import { transactionLines, transactionSnapshot } from './transaction-stats.js'

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const GROUPS = env('IMFLOW_BENCH_GROUPS', 10)
const MEMBERS = env('IMFLOW_BENCH_MEMBERS', 10_000)
const ONLINE = env('IMFLOW_BENCH_ONLINE', 500)
const RATES = (process.env.IMFLOW_BENCH_RATES ?? '2,5,10,20').split(',').map(Number)
const SECONDS = env('IMFLOW_BENCH_SECONDS', 15)
/** What a device is (device-fleet.ts): light by default, ImflowClient with `client`. */
const FLEET_KIND = process.env.IMFLOW_BENCH_FLEET ?? 'light'
const FLEET_PROCESSES = env('IMFLOW_BENCH_FLEET_PROCESSES', 2)
/** How long the last deliveries of a load may trail its last send. */
const DRAIN_MS = 10_000

/**
 * IMFLOW_BENCH_AB=<switch>: each rate is run twice in the same run, the switch off and on
 * (the order flipped from one rate to the next), for a before/after ratio on the same app,
 * broker and devices.
 */
const SWITCHES: Record<string, (on: boolean) => void> = {
  'coordinator-cache': setCoordinatorCache,
}
/**
 * IMFLOW_BENCH_AB=transaction-scope (task, then thread), stream-threads (1, then 2) or
 * transaction-pace (0, then 100 ms): a
 * setting read as the app starts, so the app is started once per value, each time with its
 * groups and devices, in the same run.
 */
const APP_SWITCHES: Record<string, { env: string; values: readonly string[] }> = {
  'transaction-scope': { env: 'IMFLOW_TRANSACTION_SCOPE', values: ['task', 'thread'] },
  'stream-threads': { env: 'IMFLOW_STREAM_THREADS', values: ['1', '2'] },
  'transaction-pace': { env: 'IMFLOW_TRANSACTION_PACE_MS', values: ['0', '100'] },
}
/** Read when the bench runs: another bench's switch in the variable is not an error here. */
const abSwitch = () => {
  const name = process.env.IMFLOW_BENCH_AB
  const toggle = name ? SWITCHES[name] : undefined
  if (name && !toggle && !APP_SWITCHES[name])
    throw new Error(
      `IMFLOW_BENCH_AB: no switch ${name} (${[...Object.keys(SWITCHES), ...Object.keys(APP_SWITCHES)].join(', ')})`,
    )
  return {
    variants: toggle ? [false, true] : [true],
    apply: (on: boolean) => toggle?.(on),
    label: (on: boolean) => (toggle ? `, ${name} ${on ? 'on' : 'off'}` : ''),
  }
}

const progress = (line: string) => process.stderr.write(`bigroom: ${line}\n`)

export async function bigroomBench(): Promise<string> {
  const appSwitch = APP_SWITCHES[process.env.IMFLOW_BENCH_AB ?? '']
  if (!appSwitch) return bigroomOnce()
  const reports: string[] = []
  for (const value of appSwitch.values) {
    progress(`${appSwitch.env}=${value}`)
    reports.push(`${appSwitch.env}=${value}`, await bigroomOnce({ [appSwitch.env]: value }))
  }
  return reports.join('\n')
}

async function bigroomOnce(env: Record<string, string> = {}): Promise<string> {
  const AB = abSwitch()
  if (FLEET_KIND !== 'light' && FLEET_KIND !== 'client')
    throw new Error(`IMFLOW_BENCH_FLEET: light or client, not ${FLEET_KIND}`)
  if (!Number.isInteger(FLEET_PROCESSES) || FLEET_PROCESSES < 1)
    throw new Error(`IMFLOW_BENCH_FLEET_PROCESSES: a whole number from 1, not ${FLEET_PROCESSES}`)
  const { app, config, kafka, hopTopic, token, createGroup, stop } = await startLatencyApp(
    'bigroom',
    { IMFLOW_KAFKA_HEAP: process.env.IMFLOW_KAFKA_HEAP ?? '1g', ...env },
  )
  const fleet = deviceFleet({ kind: FLEET_KIND, processes: FLEET_PROCESSES })
  try {
    const groups = Array.from({ length: GROUPS }, (_, g) => `room-${g}`)
    const member = (g: number, i: number) => `g${g}-u${i}`
    const started = Date.now()
    for (const [g, conversationId] of groups.entries()) {
      await createGroup(
        conversationId,
        Array.from({ length: MEMBERS }, (_, i) => member(g, i)),
      )
    }
    progress(`${GROUPS} groups of ${MEMBERS} members created`)
    const devices = groups.flatMap((group, g) =>
      Array.from({ length: ONLINE }, (_, i) => ({ token: token(member(g, i)), group })),
    )
    await fleet.connect(app.url, devices)
    progress(
      `${devices.length} devices online and following their group (${((Date.now() - started) / 1000).toFixed(0)} s)`,
    )

    const codecs = await registerContract(
      registrySchemaSource(app.infrastructure.schemaRegistryUrl),
      config.topicPrefix,
    )
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    const roomHop = await roomHopProbe(kafka, `${config.topicPrefix}im.rooms`, codecs['im.rooms'])
    const ingest = `${config.topicPrefix}im.ingest`
    let sequence = 0
    /** Sends `count` messages spread over the groups at `total` messages/s, in 10 ms ticks. */
    const load = async (count: number, total: number) => {
      const start = nowMs()
      const pending: Promise<unknown>[] = []
      for (let i = 0; i < count; ) {
        const due = Math.min(count, Math.floor(((nowMs() - start) * total) / 1000) + 1)
        const batch = []
        for (; i < due; i++) {
          const g = i % GROUPS
          const body = timedBody(`b${sequence++}`, nowMs())
          batch.push({
            key: groups[g] as string,
            value: codecs['im.ingest'].encode({
              conversationId: groups[g] as string,
              clientMsgId: body.slice(0, body.indexOf('@')),
              senderId: member(g, ONLINE + (i % 1_000)),
              type: 'TEXT',
              body,
              priority: 'HIGH',
              visibility: 'NORMAL',
              targets: [],
              sentAt: Date.now(),
            }),
          })
        }
        if (batch.length > 0) pending.push(producer.send({ topic: ingest, messages: batch }))
        await new Promise((r) => setTimeout(r, 10))
      }
      await Promise.all(pending)
    }
    // Warm-up: every device reached once before the clock starts.
    await load(GROUPS, GROUPS)
    await waitFor(async () => (await fleet.count()) >= devices.length, 120_000)

    const lines = [
      `bigroom: ${GROUPS} groups x ${MEMBERS} members, ${ONLINE} WebSocket devices online in each (${devices.length}, ${FLEET_KIND}, in ${FLEET_PROCESSES} processes), ${SECONDS} s per load; app, one broker and the devices on this machine, 4 partitions`,
    ]
    // Each rate's variants in the other order than the rate before: the first after a change
    // of rate may inherit a backlog, and must not always be the same one.
    const runs = RATES.flatMap((r, k) =>
      (k % 2 === 0 ? AB.variants : [...AB.variants].reverse()).map((v) => [r, v] as const),
    )
    for (const [rate, variant] of runs) {
      AB.apply(variant)
      const raw = percentiles(await rawHop(kafka, hopTopic, Math.min(rate * GROUPS, 200), SECONDS))
      fleet.reset()
      roomHop.latencies.length = 0
      roomHop.produced.length = 0
      const count = rate * GROUPS * SECONDS
      const expected = count * ONLINE
      const before = await transactionSnapshot(app.metrics.registry)
      // The app's stream threads (processes of their own: bin.ts start) count as the app.
      const appPids = [process.pid, ...childProcesses(process.pid, 'bin.ts')]
      // The embedded JVMs are the bench's children too: named, so "the rest" is the OS and the bench.
      const cpu = cpuWindow({
        app: appPids,
        devices: fleet.pids,
        broker: childProcesses(process.pid, 'kafka.Kafka'),
        registry: childProcesses(process.pid, 'quarkus-run'),
      })
      const began = nowMs()
      await load(count, rate * GROUPS)
      await waitFor(
        async () =>
          (await fleet.count()) >= expected || nowMs() - began > SECONDS * 1000 + DRAIN_MS,
        600_000,
      )
      const seconds = (nowMs() - began) / 1000
      const cpuLine = cpu.stop()
      const transactions = transactionLines(
        before,
        await transactionSnapshot(app.metrics.registry),
        seconds,
      )
      const latencies = await fleet.latencies()
      const path = percentiles(latencies)
      const rooms = percentiles(roomHop.latencies)
      const produced = percentiles(roomHop.produced)
      lines.push(
        `  ${rate} messages/s per group${AB.label(variant)} (${rate * GROUPS}/s in all, ${expected} deliveries expected; load average ${loadavg()[0]?.toFixed(1)})`,
        `    raw kafkajs produce -> consume hop (baseline)         p50 ${raw.p50.toFixed(1)} ms  p99 ${raw.p99.toFixed(1)} ms`,
        `    ingest -> receiver -> im.rooms -> gateway -> device   p50 ${path.p50.toFixed(1)} ms  p99 ${path.p99.toFixed(1)} ms  = ${(path.p50 / raw.p50).toFixed(0)}x / ${(path.p99 / raw.p99).toFixed(0)}x the raw hop`,
        `      of which ingest -> receiver -> im.rooms (committed)   p50 ${rooms.p50.toFixed(1)} ms  p99 ${rooms.p99.toFixed(1)} ms`,
        `        of which ingest -> the receiver's produce to im.rooms p50 ${produced.p50.toFixed(1)} ms  p99 ${produced.p99.toFixed(1)} ms`,
        ...transactions,
        `    ${(latencies.length / seconds).toFixed(0)} deliveries/s, ${((100 * latencies.length) / expected).toFixed(1)}% delivered within ${DRAIN_MS / 1000} s of the last send`,
        `    ${cpuLine}`,
      )
      progress(lines.slice(-3).join('\n'))
    }
    AB.apply(true)
    await producer.disconnect()
    await roomHop.stop()
    return lines.join('\n')
  } finally {
    await fleet.close()
    await stop()
  }
}

/** The first half of the path: when each message's room event is readable (committed) on im.rooms. */
async function roomHopProbe(
  kafka: Kafka,
  topic: string,
  codec: EventCodec<RoomEvent>,
): Promise<{ latencies: number[]; produced: number[]; stop(): Promise<void> }> {
  const latencies: number[] = []
  /** Send -> the receiver's produce of the room event (its CreateTime, before the commit). */
  const produced: number[] = []
  const consumer = kafka.consumer({ groupId: `${topic}-probe`, maxWaitTimeInMs: 100 })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: false })
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (!message.value) return
      const { event } = await codec.decode(message.value)
      if (event.payload.kind !== 'NewMessage') return
      const { body } = event.payload.message
      const sent = Number(body.slice(body.lastIndexOf('@') + 1))
      latencies.push(nowMs() - sent)
      produced.push(Number(message.timestamp) - sent)
    },
  })
  return { latencies, produced, stop: () => consumer.disconnect() }
}
