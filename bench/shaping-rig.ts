// The peak-shaving scenario shared by its crash test and its benchmark: the receiver with
// shaping on its own topics, one 10,000-member group that floods, steady 1:1 chats and LOW
// traffic, paced senders, and listeners that note when each receipt and hand-off arrived.

import type { Consumer, Kafka, Producer } from 'kafkajs'
import { createEventCodec, type EventCodec } from '../schemas/codec.js'
import type { SchemaSource } from '../schemas/schema-source.js'
import type {
  Action,
  ConversationEvent,
  FanoutBatch,
  Receipt,
  RoomEvent,
  SendMessage,
} from '../schemas/types.generated.js'
import { receiverTopology } from '../topologies/receiver/index.js'
import type { TopologyDefinition } from '../topologies/runtime/index.js'
import { type Limits, shaping } from '../topologies/shaping/index.js'
import { nowMs, paced } from './latency.js'

export const FLOOD = 'flood'
export const FLOOD_MEMBERS = Number(process.env.IMFLOW_BENCH_FLOOD_MEMBERS ?? 10_000)
const off = { default: null, overrides: {} }

export interface RigTopics {
  ingest: string
  conversations: string
  actions: string
  receipts: string
  fanout: string
  /** Large groups' messages (the flood's), once each. */
  rooms: string
}

export interface RigCodecs {
  sendMessage: EventCodec<SendMessage>
  conversationEvent: EventCodec<ConversationEvent>
  receipt: EventCodec<Receipt>
  action: EventCodec<Action>
  fanoutBatch: EventCodec<FanoutBatch>
  roomEvent: EventCodec<RoomEvent>
}

export function rigTopics(prefix: string): RigTopics {
  return {
    ingest: `${prefix}ingest`,
    conversations: `${prefix}conversations`,
    actions: `${prefix}actions`,
    receipts: `${prefix}receipts`,
    fanout: `${prefix}fanout`,
    rooms: `${prefix}rooms`,
  }
}

export async function rigCodecs(source: SchemaSource, topics: RigTopics): Promise<RigCodecs> {
  return {
    sendMessage: await createEventCodec(source, `${topics.ingest}-value`, 'SendMessage'),
    conversationEvent: await createEventCodec(
      source,
      `${topics.conversations}-value`,
      'ConversationEvent',
    ),
    receipt: await createEventCodec(source, `${topics.receipts}-value`, 'Receipt'),
    action: await createEventCodec(source, `${topics.actions}-value`, 'Action'),
    fanoutBatch: await createEventCodec(source, `${topics.fanout}-value`, 'FanoutBatch'),
    roomEvent: await createEventCodec(source, `${topics.rooms}-value`, 'RoomEvent'),
  }
}

/** The receiver with shaping: the given capacity per task and LOW deadline, no rate limits. */
export function rigReceiver(
  topics: RigTopics,
  codecs: RigCodecs,
  settings: {
    capacity: number
    lowDeadlineMs: number
    partitions: number
    /** ShapingOptions.adaptiveDrain (default true). */
    adaptiveDrain?: boolean
  },
): TopologyDefinition {
  const limits: Limits = {
    capacity: settings.capacity,
    lowDeadlineMs: settings.lowDeadlineMs,
    conversation: off,
    user: off,
    clientType: off,
    application: off,
  }
  return receiverTopology({
    topics,
    codecs,
    unit: 0,
    userPartitions: settings.partitions,
    admission: shaping({
      limits: () => limits,
      targetLatencyMs: 0,
      largeGroupMembers: 500,
      lowQueueMax: 100_000,
      ...(settings.adaptiveDrain === undefined ? {} : { adaptiveDrain: settings.adaptiveDrain }),
    }),
  })
}

/** The flood group and `dms` 1:1 conversations (dm-<i>: a-<i> and b-<i>). */
export function rigConversations(dms: number): ConversationEvent[] {
  const created = (conversationId: string, members: string[]): ConversationEvent => ({
    conversationId,
    actorId: null,
    at: Date.now(),
    change: {
      kind: 'ConversationCreated',
      conversationType: 'GROUP',
      members,
      admins: [],
      unit: '',
    },
  })
  return [
    created(
      FLOOD,
      Array.from({ length: FLOOD_MEMBERS }, (_, i) => `m${i}`),
    ),
    ...Array.from({ length: dms }, (_, i) => created(`dm-${i}`, [`a-${i}`, `b-${i}`])),
  ]
}

export type Kind = 'flood' | 'dm' | 'low'

export interface Sent {
  clientMsgId: string
  conversationId: string
  kind: Kind
  /** nowMs() just before it was written. */
  at: number
}

export interface LoadShape {
  seconds: number
  floodPerSec: number
  dmPerSec: number
  lowPerSec: number
  dms: number
  /** Makes this run's clientMsgIds unique. */
  tag: string
}

/**
 * Paced senders, one per kind, side by side (the flood in batches of 10, from a producer of
 * its own, as it would come from other clients); returns what was sent.
 */
export async function runLoad(
  producers: { chat: Producer; flood: Producer },
  topic: string,
  codec: EventCodec<SendMessage>,
  shape: LoadShape,
): Promise<Sent[]> {
  const sent: Sent[] = []
  const record = (kind: Kind, i: number) => {
    const conversationId = kind === 'flood' ? FLOOD : `dm-${i % shape.dms}`
    const message: SendMessage = {
      conversationId,
      clientMsgId: `${shape.tag}-${kind}-${i}`,
      senderId: kind === 'flood' ? `m${i % 100}` : `a-${i % shape.dms}`,
      type: 'TEXT',
      body: `${kind} ${i}`,
      priority: kind === 'low' ? 'LOW' : 'HIGH',
      visibility: 'NORMAL',
      targets: [],
      sentAt: Date.now(),
    }
    sent.push({ clientMsgId: message.clientMsgId, conversationId, kind, at: nowMs() })
    return { key: conversationId, value: codec.encode(message) }
  }
  const lane = (kind: Kind, rate: number, batch: number) =>
    rate > 0
      ? paced(Math.round((shape.seconds * rate) / batch), rate / batch, async (i) => {
          const messages = Array.from({ length: batch }, (_, k) => record(kind, i * batch + k))
          const producer = kind === 'flood' ? producers.flood : producers.chat
          await producer.send({ topic, acks: -1, messages })
        })
      : Promise.resolve()
  await Promise.all([
    lane('flood', shape.floodPerSec, 10),
    lane('dm', shape.dmPerSec, 1),
    lane('low', shape.lowPerSec, 1),
  ])
  return sent
}

export interface Answer {
  outcome: Receipt['outcome']
  /** nowMs() when the receipt was read. */
  at: number
  /** The receipt record's timestamp: when the receiver sent it, in its open transaction. */
  sentAt: number
}

export interface Handed {
  msgId: string
  conversationId: string
  priority: string
  partition: number
  /** The hand-off record's timestamp: when the receiver wrote it. */
  timestamp: number
}

/**
 * A record this reader saw already: a reader starved of CPU may miss its session and rejoin
 * from its last committed offset. What the log holds is counted, not what was delivered.
 */
function redelivered(seen: Set<string>, partition: number, offset: string): boolean {
  const at = `${partition}:${offset}`
  if (seen.has(at)) return true
  seen.add(at)
  return false
}

/** Reads receipts (committed only) into `answers` (clientMsgId -> every receipt seen). */
export async function watchReceipts(
  kafka: Kafka,
  topics: RigTopics,
  codecs: RigCodecs,
  groupId: string,
  answers: Map<string, Answer[]>,
): Promise<Consumer> {
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 20 })
  await consumer.connect()
  await consumer.subscribe({ topic: topics.receipts, fromBeginning: true })
  const seen = new Set<string>()
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      if (redelivered(seen, partition, message.offset)) return
      const receipt = await codecs.receipt.decode(message.value as Buffer)
      const list = answers.get(receipt.clientMsgId) ?? []
      list.push({ outcome: receipt.outcome, at: nowMs(), sentAt: Number(message.timestamp) })
      answers.set(receipt.clientMsgId, list)
    },
  })
  return consumer
}

/**
 * Reads the hand-offs of new messages (committed only), in each partition's order: per-user
 * hand-offs, and large groups' messages (the flood's) on the rooms topic.
 */
export async function watchHandOffs(
  kafka: Kafka,
  topics: RigTopics,
  codecs: RigCodecs,
  groupId: string,
  handed: Handed[],
  { skipFlood = false } = {},
): Promise<Consumer> {
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 20 })
  await consumer.connect()
  await consumer.subscribe({ topics: [topics.fanout, topics.rooms], fromBeginning: true })
  const seen = new Set<string>()
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      if (redelivered(seen, partition, `${topic}:${message.offset}`)) return
      if (skipFlood && message.key?.toString() === FLOOD) return
      const { event } =
        topic === topics.rooms
          ? await codecs.roomEvent.decode(message.value as Buffer)
          : await codecs.fanoutBatch.decode(message.value as Buffer)
      if (event.payload.kind !== 'NewMessage') return
      const m = event.payload.message
      handed.push({
        msgId: m.msgId,
        conversationId: m.conversationId,
        priority: m.priority,
        partition,
        timestamp: Number(message.timestamp),
      })
    },
  })
  return consumer
}
