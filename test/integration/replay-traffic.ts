// Traffic and checks the replay and backfill tests share: conversations created and applied
// before their messages, HIGH messages straight to im.ingest, an app's groups caught up, and
// two app ids' store digests compared.

import type { Admin, Kafka, Producer } from 'kafkajs'
import type { StoreDigestRow } from '../../ops/app/commands/replay/digest-app.js'
import type { TopologySources } from '../../ops/app/commands/replay/replay-sources.js'
import type { ContractCodecs } from '../../schemas/contract.js'
import type { Receipt } from '../../schemas/types.generated.js'
import { partitionForKey } from '../../topologies/runtime/index.js'
import { eventually, unique } from './helpers.js'

/**
 * Peak shaving decides by wall-clock rates (docs/shaping.md) and a replay turns it off
 * (docs/replay.md, "What still differs"): what the live app throttled, fed a burst past the
 * default capacity (2,000 a second per partition), the replay accepts, and their msgIds and
 * dedupe differ (seen in CI once the app got faster). These tests are about determinism,
 * so the live app runs without it too.
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

/** Every group of the app has committed to the end of every topic it reads. */
export async function settled(
  admin: Admin,
  runtimeId: string,
  topologies: readonly string[] = allTopologies,
): Promise<true | undefined> {
  for (const t of topologies) {
    const offsets = await admin.fetchOffsets({ groupId: `${runtimeId}-${t}` })
    for (const topic of offsets) {
      const ends = await admin.fetchTopicOffsets(topic.topic)
      for (const p of topic.partitions) {
        const end = ends.find((e) => e.partition === p.partition)
        if (end && Number(end.high) > Number(end.low) && Number(p.offset) < Number(end.high))
          return undefined
      }
    }
  }
  return true
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
 * (its sources, named: a group that never committed is not caught up, as `settled` would
 * have it, since the broker lists no topics for it).
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
