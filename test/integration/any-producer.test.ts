// Any producer: records written the way librdkafka's default partitioner writes them
// (consistent_random: CRC32 of the key, not murmur2) land on partitions whose receiver task
// does not own their conversation. Each is re-routed to its owner, once, and accepted there,
// in order per conversation; nothing is rejected with UNKNOWN_CONVERSATION.

import { crc32 } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { RunningApp } from '../../ops/app/app.js'
import { type ContractCodecs, registerContract } from '../../schemas/contract.js'
import { compareMsgIds } from '../../schemas/msg-id.js'
import { registrySchemaSource } from '../../schemas/schema-source.js'
import type { ConversationEvent, Receipt, SendMessage } from '../../schemas/types.generated.js'
import { partitionForKey } from '../../topologies/runtime/partitioner.js'
import { eventually, startTestApp, testKafka, unique } from './helpers.js'
import { committedSum } from './runtime-support.js'

const PARTITIONS = 4
const PER_CONVERSATION = 15

/** librdkafka's consistent partitioner (rd_kafka_msg_partitioner_consistent): CRC32 % count. */
function librdkafkaPartition(key: string, partitions: number): number {
  return crc32(Buffer.from(key)) % partitions
}

/** Conversation ids that CRC32 and murmur2 put on different partitions. */
function misplacedIds(count: number): string[] {
  const ids: string[] = []
  for (let i = 0; ids.length < count; i++) {
    const id = `crc-${i}`
    if (librdkafkaPartition(id, PARTITIONS) !== partitionForKey(id, PARTITIONS)) ids.push(id)
  }
  return ids
}

describe('a producer with librdkafka’s default partitioner', () => {
  const prefix = `${unique('anyp')}.`
  const kafka = testKafka()
  let app: RunningApp
  let stop: () => Promise<void>
  let codecs: ContractCodecs

  beforeAll(async () => {
    ;({ app, stop } = await startTestApp(prefix, { IMFLOW_PARTITIONS: String(PARTITIONS) }))
    codecs = await registerContract(registrySchemaSource(inject('schemaRegistryUrl')), prefix)
  })
  afterAll(() => stop?.())

  it('has every message accepted once, in order per conversation, after one extra hop', async () => {
    const now = Date.now()
    const conversations = misplacedIds(3)
    const producer = kafka.producer()
    await producer.connect()
    const created = (conversationId: string): ConversationEvent => ({
      conversationId,
      actorId: 'admin',
      at: now,
      change: {
        kind: 'ConversationCreated',
        conversationType: 'GROUP',
        members: ['ann', 'ben'],
        admins: ['ann'],
        unit: '',
      },
    })
    await producer.send({
      topic: `${prefix}im.conversations`,
      messages: conversations.map((id) => ({
        key: id,
        value: codecs['im.conversations'].encode(created(id)),
        partition: librdkafkaPartition(id, PARTITIONS),
      })),
    })
    // Each creation commits twice: where it landed (re-routed) and at its owner (applied).
    await eventually(
      async () =>
        (await committedSum(kafka, `${prefix}imflow-receiver`, `${prefix}im.conversations`)) >=
        2 * conversations.length
          ? true
          : undefined,
      { timeoutMs: 90_000, what: 'the conversations to be re-routed and applied' },
    )

    const send = (conversationId: string, n: number): SendMessage => ({
      conversationId,
      clientMsgId: `${conversationId}-${n}`,
      senderId: 'ben',
      type: 'TEXT',
      body: `message ${n}`,
      priority: 'HIGH',
      visibility: 'NORMAL',
      targets: [],
      sentAt: now,
    })
    for (let n = 0; n < PER_CONVERSATION; n++) {
      await producer.send({
        topic: `${prefix}im.ingest`,
        messages: conversations.map((id) => ({
          key: id,
          value: codecs['im.ingest'].encode(send(id, n)),
          partition: librdkafkaPartition(id, PARTITIONS),
        })),
      })
    }
    await producer.disconnect()

    const receipts: Receipt[] = []
    const consumer = kafka.consumer({ groupId: unique('anyp-reader') })
    await consumer.connect()
    await consumer.subscribe({ topic: `${prefix}im.receipts`, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (message.value) receipts.push(await codecs['im.receipts'].decode(message.value))
      },
    })
    const total = conversations.length * PER_CONVERSATION
    try {
      await eventually(() => (receipts.length >= total ? true : undefined), {
        timeoutMs: 90_000,
        what: `${total} receipts`,
      })
      // Anything doubled would have arrived by now with the rest.
      await new Promise((r) => setTimeout(r, 1_000))
    } finally {
      await consumer.disconnect()
    }

    expect(receipts).toHaveLength(total)
    expect(receipts.filter((r) => r.outcome.kind !== 'Accepted')).toEqual([])
    for (const id of conversations) {
      const mine = receipts.filter((r) => r.conversationId === id)
      // Receipts are keyed by sender (one partition here): their order is the decision order.
      expect(mine.map((r) => r.clientMsgId)).toEqual(
        Array.from({ length: PER_CONVERSATION }, (_, n) => `${id}-${n}`),
      )
      const ids = mine.map((r) => (r.outcome.kind === 'Accepted' ? r.outcome.msgId : ''))
      expect([...ids].sort(compareMsgIds)).toEqual(ids)
      expect(new Set(ids).size).toBe(PER_CONVERSATION)
    }
    const metrics = await fetch(`${app.url}/metrics`).then((r) => r.text())
    const rerouted = (topic: string) =>
      Number(
        metrics.match(
          new RegExp(
            `imflow_task_rerouted_total\\{topology="receiver",topic="${prefix.replaceAll('.', '\\.')}${topic.replaceAll('.', '\\.')}"\\} (\\d+)`,
          ),
        )?.[1] ?? 0,
      )
    expect(rerouted('im.ingest')).toBe(total)
    expect(rerouted('im.conversations')).toBe(conversations.length)
  })
})
