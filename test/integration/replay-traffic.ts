// Traffic and checks the replay and backfill tests share: a deployment of the test broker
// for the tools, conversations created and applied before their messages, HIGH messages
// straight to im.ingest, an app's groups caught up, and two app ids' store digests compared.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import type { Admin, Kafka, Producer } from 'kafkajs'
import { inject } from 'vitest'
import type { StoreDigestRow } from '../../ops/app/commands/replay/digest-app.js'
import { partitionEnds, readToEnd } from '../../ops/app/commands/replay/read-to-end.js'
import type { TopologySources } from '../../ops/app/commands/replay/replay-sources.js'
import { topologySources } from '../../ops/app/commands/replay/replay-sources.js'
import { connect, type Deployment } from '../../ops/app/commands/replay/tool-config.js'
import { type Config, loadConfig } from '../../ops/app/config.js'
import {
  provisionModuleTopics,
  provisionTopics,
  runtimeId,
} from '../../ops/app/provision-topics.js'
import { type RunningTopologies, startTopologies } from '../../ops/app/topologies.js'
import { type Logger, silentLogger } from '../../ops/log.js'
import { createMetrics } from '../../ops/metrics.js'
import { type ContractCodecs, registerContract } from '../../schemas/contract.js'
import { parseMsgId } from '../../schemas/msg-id.js'
import { registrySchemaSource } from '../../schemas/schema-source.js'
import type { Receipt } from '../../schemas/types.generated.js'
import { int64Serde } from '../../state/index.js'
import { DATA } from '../../topologies/runtime/changelog.js'
import { changelogTopic, partitionForKey } from '../../topologies/runtime/index.js'
import { eventually, unique } from './helpers.js'

/**
 * The replay tests send 2,000 messages within about a second of send time: a real burst
 * past the default capacity (2,000 a second per partition), which shaping throttles in part,
 * the same live and replayed since it decides by the records' time (replay-shaping.test.ts
 * shows that). These tests are about msgIds and stores across a replay, so the app (and the
 * shadow, which takes the same settings) runs without it.
 */
export const UNSHAPED = { IMFLOW_SHAPING_CAPACITY: '1000000' }

export const members = ['ann', 'ben', 'cy', 'dee']
/** All on one receiver partition (of 2): two receiver tasks' hand-offs to one user
 * interleave in the order they happen to arrive, live or replayed (docs/replay.md). */
export const conversations = ['team', 'ops', 'ann~ben', 'all-hands']
export const allTopologies = ['inbound', 'receiver', 'inbox', 'sync', 'merge-index', 'merge']

/** How many receiver partitions (of 2) the conversations are on: the tests expect 1. */
export const conversationPartitions = new Set(conversations.map((c) => partitionForKey(c, 2))).size

/** Creates the conversations and waits until `receiverGroup` has applied them. */
export async function createConversations(
  producer: Producer,
  admin: Admin,
  codecs: ContractCodecs,
  prefix: string,
  receiverGroup: string,
): Promise<void> {
  const topic = `${prefix}im.conversations`
  await producer.send({
    topic,
    messages: conversations.map((c, i) => ({
      key: c,
      value: codecs['im.conversations'].encode({
        conversationId: c,
        actorId: 'admin',
        at: Date.now(),
        change: {
          kind: 'ConversationCreated',
          conversationType: c.includes('~') ? 'SINGLE' : 'GROUP',
          members: c.includes('~') ? ['ann', 'ben'] : members.slice(0, 2 + (i % 3)),
          admins: ['ann'],
          unit: '',
        },
      }),
    })),
  })
  // The conversations exist before their messages come: a task reads its topics in the order
  // their batches arrive, so a message fetched first would find no conversation.
  const applied = async () => {
    const [done] = await admin.fetchOffsets({ groupId: receiverGroup, topics: [topic] })
    const ends = await admin.fetchTopicOffsets(topic)
    // A partition with no record has nothing to apply (its committed offset stays -1).
    const caughtUp = (e: { partition: number; high: string }) =>
      Number(e.high) === 0 ||
      Number(done?.partitions.find((p) => p.partition === e.partition)?.offset) >= Number(e.high)
    return ends.every(caughtUp) ? true : undefined
  }
  await eventually(applied, { timeoutMs: 120_000, what: 'the conversations to be applied' })
}

/** A deployment under `prefix` on the test broker and registry, as the tools see it. */
export interface ReplayRig {
  prefix: string
  /** Its settings, as the app started with `startTestApp(prefix, extra)` would read them. */
  env: Record<string, string>
  config: Config
  codecs: ContractCodecs
  deployment: Deployment
  close(): Promise<void>
}

/** Two partitions (the traffic's conversations are laid out for that) and a data folder of its own. */
export async function replayRig(
  prefix: string,
  extra: Record<string, string> = {},
): Promise<ReplayRig> {
  const dataDir = await mkdtemp(join(tmpdir(), 'imflow-replay-'))
  const codecs = await registerContract(registrySchemaSource(inject('schemaRegistryUrl')), prefix)
  const env = {
    KAFKA_BROKERS: inject('kafkaBrokers').join(','),
    SCHEMA_REGISTRY_URL: inject('schemaRegistryUrl'),
    IMFLOW_TOPIC_PREFIX: prefix,
    IMFLOW_DATA_DIR: dataDir,
    IMFLOW_PARTITIONS: '2',
    ...extra,
  }
  const config = loadConfig(env)
  const deployment = await connect(config, silentLogger)
  return {
    prefix,
    env,
    config,
    codecs,
    deployment,
    async close() {
      await deployment.close()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

/**
 * The deployment's topologies run in this process (no API), its topics provisioned first:
 * `start` runs them all, or `only` some, and answers the codecs and the started ones' sources;
 * `stop` stops what runs, the last started first.
 */
export async function rigTopologies(rig: ReplayRig) {
  const { deployment, config, prefix } = rig
  await provisionTopics(deployment.admin, config, silentLogger)
  await provisionModuleTopics(deployment.admin, config, silentLogger)
  let running: RunningTopologies | undefined
  const stop = async () => {
    for (const s of [...(running?.all ?? [])].reverse()) await s.stop()
    running = undefined
  }
  const start = async ({
    only,
    log = silentLogger,
  }: {
    only?: readonly string[]
    log?: Logger
  } = {}) => {
    const schemas = registrySchemaSource(inject('schemaRegistryUrl'))
    const codecs = await registerContract(schemas, prefix)
    const ctx = {
      config: deployment.config,
      kafka: deployment.kafka,
      codecs,
      schemas,
      log,
      metrics: createMetrics().task,
    }
    const sources = await topologySources(ctx)
    running = await startTopologies(only ? { ...ctx, only } : ctx)
    const started = sources.filter((s) => !only || only.includes(s.topology))
    return { codecs, sources: started, running }
  }
  return { start, stop }
}

/** The conversations created and applied, then `sent` messages written (options as sendMessages). */
export async function writeTraffic(
  kafka: Kafka,
  rig: ReplayRig,
  sent: number,
  options?: Parameters<typeof sendMessages>[4],
): Promise<void> {
  const { prefix, codecs, deployment } = rig
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  try {
    await createConversations(
      producer,
      deployment.admin,
      codecs,
      prefix,
      `${prefix}imflow-receiver`,
    )
    await sendMessages(producer, codecs, prefix, sent, options)
  } finally {
    await producer.disconnect()
  }
}

/** `count` HIGH messages, numbered from `first`, in requests of `perRequest`, bodies padded
 * to `bodyBytes` (fewer records per fetch, so more transactions). */
export async function sendMessages(
  producer: Producer,
  codecs: ContractCodecs,
  prefix: string,
  count: number,
  { first = 0, perRequest = 1, bodyBytes = 0 } = {},
): Promise<void> {
  for (let i = first; i < first + count; i += perRequest) {
    const numbers = Array.from({ length: Math.min(perRequest, first + count - i) }, (_, k) => i + k)
    await producer.send({
      topic: `${prefix}im.ingest`,
      messages: numbers.map((n) => {
        const conversationId = conversations[n % conversations.length] as string
        return {
          key: conversationId,
          value: codecs['im.ingest'].encode({
            conversationId,
            clientMsgId: `c${n}`,
            senderId: n % 5 === 4 ? 'ben' : 'ann',
            type: 'TEXT',
            body: `message ${n}`.padEnd(bodyBytes, '.'),
            priority: 'HIGH',
            visibility: 'NORMAL',
            targets: [],
            sentAt: Date.now(),
          }),
        }
      }),
    })
  }
}

/** Reads `count` receipts from `topic` (from its start). */
export async function readReceipts(
  kafka: Kafka,
  codecs: ContractCodecs,
  topic: string,
  count: number,
): Promise<Receipt[]> {
  const receipts: Receipt[] = []
  const consumer = kafka.consumer({ groupId: unique('rpl-reader'), readUncommitted: false })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (message.value) receipts.push(await codecs['im.receipts'].decode(message.value))
    },
  })
  try {
    await eventually(() => (receipts.length >= count ? true : undefined), {
      timeoutMs: 120_000,
      what: `${count} receipts on ${topic}`,
    })
  } finally {
    await consumer.disconnect()
  }
  return receipts
}

/**
 * Every topology of the deployment's app has committed to the end of each of its sources that
 * holds records. Asking the group which topics it committed would not do: right after a burst,
 * a receiver whose first transaction on im.ingest is still open lists only im.conversations,
 * and looked caught up (replay-resume stopped the app 400 messages in, on an idle machine).
 */
export async function settled(
  deployment: Deployment,
  codecs: ContractCodecs,
): Promise<() => Promise<true | undefined>> {
  const { config, kafka, admin, log } = deployment
  const schemas = registrySchemaSource(deployment.infrastructure.schemaRegistryUrl)
  const sources = await topologySources({ config, kafka, codecs, schemas, log })
  return () => caughtUp(admin, runtimeId(config), sources)
}

const rowKey = (r: { topology: string; store: string; partition: number }) =>
  `${r.topology}/${r.store}/${r.partition}`

/** The stores (topology/store) whose digest differs between two runs, or that one lacks. */
export function differingStores(
  a: readonly StoreDigestRow[],
  b: readonly StoreDigestRow[],
): string[] {
  const byKey = new Map(a.map((r) => [rowKey(r), r]))
  const bKeys = new Set(b.map(rowKey))
  const differ = [
    ...b.filter((r) => byKey.get(rowKey(r))?.digest !== r.digest),
    ...a.filter((r) => !bKeys.has(rowKey(r))),
  ]
  return [...new Set(differ.map((r) => `${r.topology}/${r.store}`))].sort()
}

/**
 * Every topology's group has committed to the end of every topic it reads that holds records
 * (its sources, named: a group that has not committed on a topic is not caught up on it; the
 * broker lists no such topic for the group).
 */
export async function caughtUp(
  admin: Admin,
  runtimeId: string,
  sources: readonly TopologySources[],
): Promise<true | undefined> {
  for (const s of sources) {
    const topics = [...s.inputs.map((i) => i.topic), ...s.derived]
    const committed = await admin.fetchOffsets({ groupId: `${runtimeId}-${s.topology}`, topics })
    for (const t of committed) {
      const ends = await admin.fetchTopicOffsets(t.topic)
      for (const e of ends) {
        const at = Number(t.partitions.find((p) => p.partition === e.partition)?.offset ?? -1)
        if (Number(e.high) > Number(e.low) && at < Number(e.high)) return undefined
      }
    }
  }
  return true
}

/** Every committed record value on `topic`, in log order per partition. */
async function readValues(kafka: Kafka, admin: Admin, topic: string): Promise<Buffer[]> {
  const values: Buffer[] = []
  await readToEnd(kafka, await partitionEnds(admin, [topic]), (_t, _p, _k, value) => {
    if (value) values.push(value)
  })
  return values
}

/** How many receipts on `topic` say each outcome (`Accepted`, `Throttled OVERLOAD`, ...). */
export async function receiptOutcomes(
  kafka: Kafka,
  admin: Admin,
  codecs: ContractCodecs,
  topic: string,
): Promise<Record<string, number>> {
  const raw = await readValues(kafka, admin, topic)
  const outcomes: Record<string, number> = {}
  for (const { outcome: o } of await Promise.all(raw.map((v) => codecs['im.receipts'].decode(v)))) {
    const what = o.kind === 'Accepted' ? o.kind : `${o.kind} ${o.reason}`
    outcomes[what] = (outcomes[what] ?? 0) + 1
  }
  return outcomes
}

/**
 * Why two app ids' receiver stores differ, for a failure message: per store, the keys only
 * one has and the first keys whose values differ, with dedupe answers' msgIds taken apart
 * (time, sequence) beside the message's send time.
 */
export async function explainReceiverDifference(
  kafka: Kafka,
  admin: Admin,
  codecs: ContractCodecs,
  prefix: string,
  [a, b]: readonly [string, string],
): Promise<string> {
  const sends = await readValues(kafka, admin, `${prefix}im.ingest`)
  const decoded = await Promise.all(sends.map((v) => codecs['im.ingest'].decode(v)))
  const sentAt = new Map(decoded.map((m) => [m.clientMsgId, m.sentAt]))
  const lines: string[] = []
  for (const id of [a, b]) {
    const topic = `${prefix}${id === a ? '' : `${id.slice(prefix.length)}.`}im.receipts`
    lines.push(`${topic}: ${JSON.stringify(await receiptOutcomes(kafka, admin, codecs, topic))}`)
  }
  const deadLetters = `${prefix}im.dead-letter`
  const letters = await readValues(kafka, admin, deadLetters)
  // Avro: the error code and message show as text among the bytes.
  const text = letters[0]
    ?.toString('latin1')
    .replace(/[^\x20-\x7e]+/g, ' ')
    .slice(-400)
  lines.push(`${deadLetters}: ${letters.length} records${text ? `, the first: ${text}` : ''}`)
  for (const store of ['ids', 'dedupe']) {
    const [left, right] = await Promise.all(
      [a, b].map(async (id) => {
        const topic = changelogTopic(id, 'receiver', store)
        const entries = new Map<string, Buffer | null>()
        await readToEnd(kafka, await partitionEnds(admin, [topic]), (_t, p, key, value) => {
          if (key?.[0] === DATA) entries.set(`${p}:${key.subarray(1).toString()}`, value)
        })
        return entries
      }),
    )
    const show = (v: Buffer | null | undefined) => {
      if (!v) return String(v)
      if (store === 'ids') return String(int64Serde.deserialize(v))
      const { msgId } = JSON.parse(v.toString()) as { msgId: string }
      const { timeMs, sequence } = parseMsgId(msgId)
      return `${new Date(timeMs).toISOString()}#${sequence}`
    }
    const keys = [...new Set([...(left?.keys() ?? []), ...(right?.keys() ?? [])])]
    // In send order (clientMsgId c<n>), so the first to differ shows where the runs parted.
    const number = (k: string) => Number(k.split('\u0000')[1]?.slice(1) ?? -1)
    const differ = keys
      .filter((k) => !left?.get(k)?.equals(right?.get(k) ?? Buffer.alloc(0)))
      .sort((x, y) => number(x) - number(y))
    lines.push(`${store}: ${left?.size} vs ${right?.size} keys, ${differ.length} differ`)
    for (const k of differ.length <= 8 ? differ : [...differ.slice(0, 6), ...differ.slice(-2)]) {
      const clientMsgId = k.split('\u0000')[1] ?? ''
      const sent = sentAt.get(clientMsgId)
      lines.push(
        `  ${k.replace('\u0000', '/')}: ${show(left?.get(k))} vs ${show(right?.get(k))}${sent ? ` (sent ${new Date(sent).toISOString()})` : ''}`,
      )
    }
  }
  return lines.join('\n')
}
