// Peak-shaving benchmark: the receiver with shaping takes steady 1:1 chats and LOW traffic,
// first alone (the baseline), then beside a flood from one 10,000-member group at 10x the
// capacity, then alone again, in the same run on the same receiver. Reports accepted/throttled
// per class, the 1:1 latency (written to im.ingest -> receipt read) of both phases as a ratio,
// where that latency goes (hops, shaping-hops.ts), and how late LOW was handed off.
// Usage: npm run bench -- shaping (IMFLOW_BENCH_SECONDS per phase, IMFLOW_BENCH_CAPACITY per
// task, IMFLOW_BENCH_FLOOD_MEMBERS to vary the scenario, IMFLOW_BENCH_ROUNDS for that many
// runs and their medians; IMFLOW_BENCH_AB below).

import { loadavg } from 'node:os'
import { join } from 'node:path'
import { Partitioners } from 'kafkajs'
import { createTopicsAndWait } from '../ops/kafka-admin.js'
import { setFetchWaitAdapting } from '../ops/kafkajs-fetch-wait.js'
import { createMetrics } from '../ops/metrics.js'
import { memorySchemaSource } from '../schemas/schema-source.js'
import { startTopology } from '../topologies/runtime/index.js'
import { setShortWaitWhilePaused } from '../topologies/runtime/internal/fetch-ahead.js'
import { partitionForKey } from '../topologies/runtime/partitioner.js'
import { type BenchBroker, committed, waitFor, withBroker } from './broker.js'
import { percentiles } from './latency.js'
import { HopTracer, hopLine, hopsOf, median } from './shaping-hops.js'
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
import { transactionLines, transactionSnapshot } from './transaction-stats.js'

const PARTITIONS = 4
/** Per task; low enough that the flood's hand-offs stay under Kafka's 1 MiB request limit. */
const CAPACITY = Number(process.env.IMFLOW_BENCH_CAPACITY ?? 10)
const DEADLINE_MS = 10_000
const SECONDS = Number(process.env.IMFLOW_BENCH_SECONDS ?? 20)
const DMS = 40
const CALM = { seconds: SECONDS, floodPerSec: 0, dmPerSec: 10, lowPerSec: 4, dms: DMS }

/**
 * IMFLOW_BENCH_AB=<switch>: the scenario runs with the switch off, then on (then on, off, ...
 * for IMFLOW_BENCH_ROUNDS rounds), each on a receiver and topics of its own, in the same run,
 * for a before/after comparison under the same load.
 * - `adaptive-drain`: ShapingOptions.adaptiveDrain — LOW's deadline from acceptance, its
 *   margin from the gaps between drains (on), or from when the task queued it with a fixed
 *   margin (off, the behaviour before).
 * - `fetch-wait`: the receiver's fetches wait at most 5 ms for data (on) instead of the
 *   runtime's 50 (off): how much of a 1:1 message's wait on the flood's partition is the
 *   fetch round its partition, resumed after a transaction, waits for.
 * - `behind-fetch-wait`: 5 ms while a partition is paused for its task (on, the runtime's
 *   way), or always the configured 50 (off).
 * - `paused-fetch-wait`: 5 ms while any partition is paused for its task (on, the runtime's
 *   way), or only while a paused partition has records waiting behind its batch (off).
 */
const SWITCHES = {
  'adaptive-drain': (on: boolean) => ({ receiver: { adaptiveDrain: on }, runner: {} }),
  'fetch-wait': (on: boolean) => ({ receiver: {}, runner: on ? { fetchWaitMs: 5 } : {} }),
  'behind-fetch-wait': (on: boolean) => {
    setFetchWaitAdapting(on)
    return { receiver: {}, runner: {} }
  },
  'paused-fetch-wait': (on: boolean) => {
    setShortWaitWhilePaused(on)
    return { receiver: {}, runner: {} }
  },
} as const
type Variant = ReturnType<(typeof SWITCHES)[keyof typeof SWITCHES]>
/** Read when the bench runs: another bench's switch in the variable is not an error here. */
const abSwitch = () => {
  const name = process.env.IMFLOW_BENCH_AB
  if (name !== undefined && !Object.hasOwn(SWITCHES, name))
    throw new Error(`IMFLOW_BENCH_AB: no switch ${name} (${Object.keys(SWITCHES).join(', ')})`)
  const toggle = name === undefined ? undefined : SWITCHES[name as keyof typeof SWITCHES]
  const rounds = Number(process.env.IMFLOW_BENCH_ROUNDS ?? 1)
  const variants: (boolean | undefined)[] = toggle
    ? Array.from({ length: rounds }, (_, r) => (r % 2 ? [true, false] : [false, true])).flat()
    : Array.from({ length: rounds }, () => undefined)
  const settings = (on: boolean | undefined): Variant =>
    on === undefined || !toggle ? { receiver: {}, runner: {} } : toggle(on)
  return { name, variants, settings }
}

const progress = (line: string) => process.stderr.write(`shaping: ${line}\n`)

interface Outcome {
  lines: string[]
  /** 1:1 p50 and p99 during the flood over without it. */
  p50Ratio: number
  p99Ratio: number
  /** 1:1 p50 on the flood's partition during the flood over the p50 without it. */
  sharingRatio: number
  /** The latest LOW hand-off after acceptance, over the deadline. */
  lowLate: number
  load: number
}

export function shapingBench(): Promise<string> {
  const AB = abSwitch()
  return withBroker(async (broker) => {
    const outcomes: { variant: boolean | undefined; outcome: Outcome }[] = []
    for (const [i, variant] of AB.variants.entries()) {
      const label = variant === undefined ? '' : `${AB.name} ${variant ? 'on' : 'off'}`
      progress(`scenario ${i + 1} of ${AB.variants.length} ${label}`)
      const outcome = await scenario(broker, `${broker.run}-${i}`, AB.settings(variant))
      outcomes.push({ variant, outcome })
    }
    const head = `shaping: capacity ${CAPACITY} messages/s per task, ${PARTITIONS} partitions, ${SECONDS} s per phase, LOW deadline ${DEADLINE_MS / 1000} s, one broker`
    if (AB.name === undefined)
      return [head, ...roundsReport(outcomes.map((o) => o.outcome))].join('\n')
    const blocks = outcomes.flatMap(({ variant, outcome }) => [
      `${AB.name} ${variant ? 'on' : 'off'} (load average ${outcome.load.toFixed(1)} at its start):`,
      ...outcome.lines,
    ])
    const mean = (on: boolean, pick: (o: Outcome) => number) => {
      const xs = outcomes.filter((o) => o.variant === on).map((o) => pick(o.outcome))
      return xs.reduce((a, b) => a + b, 0) / xs.length
    }
    const compare = (what: string, pick: (o: Outcome) => number) =>
      `  ${what.padEnd(44)} off ${mean(false, pick).toFixed(2)}  on ${mean(true, pick).toFixed(2)}  = ${(mean(true, pick) / mean(false, pick)).toFixed(2)} x`
    return [
      head,
      ...blocks,
      `${AB.name}, on against off (means over ${outcomes.length / 2} scenario(s) each):`,
      compare('LOW latest hand-off, x the deadline', (o) => o.lowLate),
      compare('1:1 p50 during / without the flood', (o) => o.p50Ratio),
      compare('1:1 p99 during / without the flood', (o) => o.p99Ratio),
      compare("1:1 p50 on the flood's partition / without", (o) => o.sharingRatio),
    ].join('\n')
  })
}

/**
 * Without a switch, IMFLOW_BENCH_ROUNDS runs the scenario that many times (the same setup's
 * ratios moved 1.4x-2.2x between single runs on one day): each round, then the medians.
 */
function roundsReport(outcomes: readonly Outcome[]): string[] {
  if (outcomes.length === 1) return outcomes[0]?.lines ?? []
  const summary = (what: string, pick: (o: Outcome) => number) => {
    const xs = outcomes.map(pick)
    return `  ${what.padEnd(44)} median ${median(xs).toFixed(2)}  (${xs.map((x) => x.toFixed(2)).join(', ')})`
  }
  return [
    ...outcomes.flatMap((o, i) => [
      `round ${i + 1} (load average ${o.load.toFixed(1)} at its start):`,
      ...o.lines,
    ]),
    `medians over ${outcomes.length} rounds (each round's in brackets):`,
    summary('1:1 p50 during / without the flood', (o) => o.p50Ratio),
    summary('1:1 p99 during / without the flood', (o) => o.p99Ratio),
    summary("1:1 p50 on the flood's partition / without", (o) => o.sharingRatio),
    summary('LOW latest hand-off, x the deadline', (o) => o.lowLate),
  ]
}

/** One run of the three phases on a receiver and topics of its own. */
async function scenario(
  { kafka, admin, dir, quiet }: BenchBroker,
  run: string,
  variant: Variant,
): Promise<Outcome> {
  const load = loadavg()[0] ?? 0
  const topics = rigTopics(`${run}-`)
  await createTopicsAndWait(
    admin,
    Object.values(topics).map((topic) => ({ topic, numPartitions: PARTITIONS })),
  )
  const codecs = await rigCodecs(memorySchemaSource(), topics)
  const tracer = new HopTracer(topics.ingest)
  const metrics = createMetrics()
  const receiver = await startTopology(
    tracer.wrap(
      rigReceiver(topics, codecs, {
        capacity: CAPACITY,
        lowDeadlineMs: DEADLINE_MS,
        partitions: PARTITIONS,
        ...variant.receiver,
      }),
    ),
    {
      kafka,
      appId: run,
      stateDir: join(dir, run),
      log: quiet,
      metrics: metrics.task,
      ...variant.runner,
    },
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
    async () => (await committed(admin, `${run}-receiver`, topics.conversations)) >= events.length,
  )
  const answers = new Map<string, Answer[]>()
  const handed: Handed[] = []
  const readers = [
    await watchReceipts(kafka, topics, codecs, `${run}-receipts`, answers),
    await watchHandOffs(kafka, topics, codecs, `${run}-handoffs`, handed, { skipFlood: true }),
  ]
  /** The receiver's transactions per phase: is a phase's latency its work or its commits? */
  const transactions: string[] = []
  const phase = async (tag: string, floodPerSec: number) => {
    const before = await transactionSnapshot(metrics.registry)
    const started = Date.now()
    const sent = await runLoad(
      { chat: producer, flood: floodProducer },
      topics.ingest,
      codecs.sendMessage,
      { ...CALM, floodPerSec, tag },
    )
    await waitFor(async () => sent.every((s) => answers.has(s.clientMsgId)), 300_000)
    const seconds = (Date.now() - started) / 1000
    const lines = transactionLines(before, await transactionSnapshot(metrics.registry), seconds)
    transactions.push(...lines.map((line) => `${line.replace(/^\s+/, `    ${tag.padEnd(10)} `)}`))
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

  const lateness = lowIds.map((o) => {
    const first = handed.find((h) => h.msgId === o.msgId) as Handed
    return first.timestamp - o.createdAt
  })
  return report({ calm, flood, answers, tracer, lateness, load, transactions })
}

function report(run: {
  calm: readonly Sent[]
  flood: readonly Sent[]
  answers: ReadonlyMap<string, Answer[]>
  tracer: HopTracer
  lateness: readonly number[]
  load: number
  transactions: readonly string[]
}): Outcome {
  const { calm, flood, answers, tracer, lateness, load, transactions } = run
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
  const floodPartition = partitionForKey(FLOOD, PARTITIONS)
  const onFlood = (s: Sent) => partitionForKey(s.conversationId, PARTITIONS) === floodPartition
  const before = latency(calm)
  const during = latency(flood)
  const sharing = latency(flood.filter(onFlood))
  const apart = latency(flood.filter((s) => !onFlood(s)))
  const hops = (sent: readonly Sent[]) =>
    sent.flatMap((s) => {
      const trace = tracer.traces.get(s.clientMsgId)
      const receipt = answers.get(s.clientMsgId)?.[0]
      return s.kind === 'dm' && trace && receipt ? [hopsOf(trace, s.at, receipt)] : []
    })
  const perTransaction = (partitions: (p: number) => boolean) => {
    const sizes = [...tracer.transactionSizes].filter(([p]) => partitions(p)).flatMap(([, s]) => s)
    return (sizes.reduce((a, b) => a + b, 0) / Math.max(1, sizes.length)).toFixed(1)
  }
  const floodSpan = {
    from: Math.min(...flood.map((s) => s.at)),
    to: Math.max(...flood.map((s) => s.at)),
  }
  const betweenDuringFlood = (partition: number) =>
    median(
      (tracer.between.get(partition) ?? [])
        .filter((g) => g.at >= floodSpan.from && g.at <= floodSpan.to)
        .map((g) => g.ms),
    ).toFixed(1)
  const row = (name: string, c: ReturnType<typeof count>) =>
    `  ${name.padEnd(34)} sent ${String(c.sent).padStart(5)}  accepted ${String(c.accepted).padStart(5)}  throttled ${String(c.throttled).padStart(5)}`
  const floodCount = count(flood, 'flood')
  const late = Math.max(...lateness)
  const lines = [
    row(`flood (${FLOOD_MEMBERS} members, ${10 * CAPACITY}/s)`, floodCount),
    row('1:1 chats, HIGH (10/s)', count([...calm, ...flood], 'dm')),
    row('LOW (4/s)', count([...calm, ...flood], 'low')),
    `  flood accepted: ${(floodCount.accepted / SECONDS).toFixed(1)} messages/s = ${(floodCount.accepted / SECONDS / CAPACITY).toFixed(2)} x capacity`,
    `  1:1 latency without the flood (baseline, before and after)  p50 ${before.p50.toFixed(0)} ms  p99 ${before.p99.toFixed(0)} ms`,
    `  1:1 latency during the flood                                p50 ${during.p50.toFixed(0)} ms  p99 ${during.p99.toFixed(0)} ms  = ${(during.p50 / before.p50).toFixed(2)} x (p50), ${(during.p99 / before.p99).toFixed(2)} x (p99)`,
    `    on the flood's partition p50 ${sharing.p50.toFixed(0)} ms (${sharing.count}), on the others p50 ${apart.p50.toFixed(0)} ms (${apart.count})`,
    `  1:1 hops (medians, ms: written -> its slice began -> its processing -> its transaction's processing ended -> receipt sent -> read)`,
    hopLine('without the flood', hops(calm)),
    hopLine("flood, on the flood's partition", hops(flood.filter(onFlood))),
    hopLine('flood, on the others', hops(flood.filter((s) => !onFlood(s)))),
    `    records per transaction (all phases): flood's partition ${perTransaction((p) => p === floodPartition)}, the others ${perTransaction((p) => p !== floodPartition)}`,
    `    during the flood, a transaction's end of processing -> the next slice (commit, resume, next fetch round): median ${betweenDuringFlood(floodPartition)} ms on the flood's partition (its sends come in tens every 100 ms)`,
    "  the receiver's transactions per phase (all partitions):",
    ...transactions,
    `  LOW handed off after acceptance: max ${late} ms = ${(late / DEADLINE_MS).toFixed(2)} x the deadline`,
  ]
  return {
    lines,
    p50Ratio: during.p50 / before.p50,
    p99Ratio: during.p99 / before.p99,
    sharingRatio: sharing.p50 / before.p50,
    lowLate: late / DEADLINE_MS,
    load,
  }
}
