// Sync-path latency: a message produced to im.ingest until a device holds it, through the
// whole path (receiver -> sync -> push gateway -> WebSocket client), at a fixed load, against
// one raw kafkajs produce -> consume hop on the same broker in the same run. The devices run
// in a process of their own (device-fleet.ts), as phones are not on the server.
// Usage: npm run bench -- sync   (IMFLOW_BENCH_RATES messages/s, comma-separated;
// IMFLOW_BENCH_SECONDS per load; IMFLOW_BENCH_AB=coordinator-cache for an A/B)

import { Partitioners } from 'kafkajs'
import { setCoordinatorCache } from '../ops/kafkajs-coordinator-cache.js'
import { setFetchWaitAdapting } from '../ops/kafkajs-fetch-wait.js'
import { registerContract } from '../schemas/contract.js'
import { registrySchemaSource } from '../schemas/schema-source.js'
import type { SendMessage } from '../schemas/types.generated.js'
import { setShortWaitWhilePaused } from '../topologies/runtime/internal/fetch-ahead.js'
import { waitFor } from './broker.js'
import { brokerRequests, requestLine } from './broker-requests.js'
import { deviceFleet, timedBody } from './device-fleet.js'
import { nowMs, paced, percentiles } from './latency.js'
import { startLatencyApp } from './latency-app.js'
import { rawHop } from './raw-hop.js'
import { against, type BenchFigure, type BenchResult } from './result.js'
import { transactionLines, transactionSnapshot } from './transaction-stats.js'

const RATES = (process.env.IMFLOW_BENCH_RATES ?? '10,50').split(',').map(Number)
const SECONDS = Number(process.env.IMFLOW_BENCH_SECONDS ?? 20)
const MEMBERS = 30
/** Sends not yet answered by the broker: the sender keeps the rate asked for past ~250/s. */
const IN_FLIGHT = 64
/** IMFLOW_BENCH_AB=<switch>: each rate twice, the switch off and on (the order flipped per rate). */
const SWITCHES: Record<string, (on: boolean) => void> = {
  'coordinator-cache': setCoordinatorCache,
  'behind-fetch-wait': setFetchWaitAdapting,
  'paused-fetch-wait': setShortWaitWhilePaused,
}
const AB = process.env.IMFLOW_BENCH_AB
const abSwitch = AB === undefined ? undefined : SWITCHES[AB]

export async function syncBench(): Promise<BenchResult> {
  const { app, config, kafka, hopTopic, token, createGroup, stop } = await startLatencyApp('sync')
  // The devices (ImflowClients: they apply and ack the PTS stream) in a process of their
  // own, so the app's event loop is the app's; they share the machine's cores still.
  const fleet = deviceFleet({ kind: 'client', processes: 1 })
  try {
    // The whole path: one group, one device per member, messages produced to im.ingest.
    const members = Array.from({ length: MEMBERS }, (_, i) => `m${i}`)
    await createGroup('bench', members)
    await fleet.connect(
      app.url,
      members.map((sub) => ({ token: token(sub) })),
    )
    const codecs = await registerContract(
      registrySchemaSource(app.infrastructure.schemaRegistryUrl),
      config.topicPrefix,
    )
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    const send = async (clientMsgId: string, sender: string) => {
      const message: SendMessage = {
        conversationId: 'bench',
        clientMsgId,
        senderId: sender,
        type: 'TEXT',
        body: timedBody(clientMsgId, nowMs()),
        priority: 'HIGH',
        visibility: 'NORMAL',
        targets: [],
        sentAt: Date.now(),
      }
      await producer.send({
        topic: `${config.topicPrefix}im.ingest`,
        messages: [{ key: 'bench', value: codecs['im.ingest'].encode(message) }],
      })
    }
    // Warm-up: every device online and reached once before the clock starts.
    await send('warm-up', 'm0')
    await waitFor(async () => (await fleet.count()) >= MEMBERS, 120_000)
    const figures: BenchFigure[] = []
    const lines = [
      `sync: ${SECONDS} s at each load, to a ${MEMBERS}-member group, one WebSocket device per member; one broker, 4 partitions, pack delay ${config.syncPackDelayMs} ms`,
    ]
    if (AB !== undefined && !abSwitch)
      throw new Error(`IMFLOW_BENCH_AB: no switch ${AB} (${Object.keys(SWITCHES).join(', ')})`)
    const runs = RATES.flatMap((rate, i): { rate: number; on?: boolean }[] =>
      abSwitch ? (i % 2 ? [true, false] : [false, true]).map((on) => ({ rate, on })) : [{ rate }],
    )
    for (const [n, { rate, on }] of runs.entries()) {
      if (on !== undefined) abSwitch?.(on)
      const variant = on === undefined ? '' : `, ${AB} ${on ? 'on' : 'off'}`
      // Unique per run: the receiver takes a repeated clientMsgId as the same message again (a
      // rate listed twice once got no delivery at all).
      const tag = `r${rate}${on === undefined ? '' : on ? 'on' : 'off'}-${n}`
      const raw = percentiles(await rawHop(kafka, hopTopic, rate, SECONDS))
      fleet.reset()
      const count = rate * SECONDS
      const before = await transactionSnapshot(app.metrics.registry)
      const requestsBefore = brokerRequests()
      const began = nowMs()
      await paced(
        count,
        rate,
        (i) => send(`${tag}-${i}`, members[i % MEMBERS] as string),
        IN_FLIGHT,
      )
      const sentPerSec = count / ((nowMs() - began) / 1000)
      // Every message pushed to every device (the client drops repeats), or, once a device
      // was rebased (it reloads the latest page instead), until deliveries stop coming.
      let last = { at: nowMs(), delivered: 0 }
      let rebases = 0
      await waitFor(async () => {
        const delivered = await fleet.count()
        rebases = await fleet.rebases()
        if (delivered >= count * MEMBERS) return true
        if (delivered > last.delivered) last = { at: nowMs(), delivered }
        return rebases > 0 && nowMs() - last.at > 5_000
      }, 120_000).catch((err) => {
        throw new Error(
          `${String(err)}: ${last.delivered} of ${count * MEMBERS} deliveries, no rebase`,
        )
      })
      const latencies = await fleet.latencies()
      const transactions = transactionLines(
        before,
        await transactionSnapshot(app.metrics.registry),
        (nowMs() - began) / 1000,
      )
      const path = percentiles(latencies)
      const ratio = (a: number, b: number) => (a / b).toFixed(0)
      for (const q of ['p50', 'p99'] as const) {
        const base = { label: `raw hop ${q} at ${rate}/s${variant}`, value: raw[q] }
        figures.push(
          { ...base, unit: 'ms' },
          against(`sync path ${q} at ${rate}/s${variant}`, path[q], 'ms', base),
        )
      }
      lines.push(
        `  ${rate} messages/s${variant} (${sentPerSec.toFixed(0)}/s as sent; ${path.count} of ${count * MEMBERS} deliveries pushed${rebases > 0 ? `, ${rebases} rebases: devices so far behind in acks reloaded instead` : ', all of them'})`,
        `    raw kafkajs produce -> consume hop (baseline)    p50 ${raw.p50.toFixed(1)} ms  p99 ${raw.p99.toFixed(1)} ms`,
        `    ingest -> receiver -> sync -> gateway -> device  p50 ${path.p50.toFixed(1)} ms  p99 ${path.p99.toFixed(1)} ms  = ${ratio(path.p50, raw.p50)}x / ${ratio(path.p99, raw.p99)}x the raw hop`,
        ...transactions,
        `      ${requestLine(requestsBefore, brokerRequests(), (nowMs() - began) / 1000)}`,
      )
    }
    await producer.disconnect()
    return { text: lines.join('\n'), figures }
  } finally {
    // Also after a failure: the fleet's process would outlive the bench.
    await fleet.close()
    await stop()
  }
}
