// Any producer: a record on a partition that does not own its conversation is re-routed to the
// owner (one hop, the copy marked with where it came from) and processed only there; merge,
// which reads the same topics, skips the original. Through the topology test driver.

import { beforeEach, describe, expect, it } from 'vitest'
import type { ConversationEvent, SendMessage } from '../../schemas/types.generated.js'
import { byConversation } from '../../topologies/model/index.js'
import { receiverTopology } from '../../topologies/receiver/index.js'
import { type PipedRecord, TopologyTestDriver } from '../../topologies/runtime/index.js'
import {
  OncePerProducer,
  placement,
  REROUTED_FROM,
} from '../../topologies/runtime/internal/misplaced.js'
import { partitionForKey } from '../../topologies/runtime/partitioner.js'
import { type ReceiverCodecs, receiverCodecs, receiverTopics } from './receiver-codecs.js'

const PARTITIONS = 4
const topics = receiverTopics
const owner = partitionForKey('g1', PARTITIONS)
const elsewhere = (owner + 1) % PARTITIONS
const now = Date.UTC(2026, 10, 26, 12)

let codecs: ReceiverCodecs
let driver: TopologyTestDriver

const created: ConversationEvent = {
  conversationId: 'g1',
  actorId: null,
  at: now,
  change: {
    kind: 'ConversationCreated',
    conversationType: 'GROUP',
    members: ['alice', 'bob'],
    admins: ['alice'],
    unit: '',
  },
}
const message: SendMessage = {
  conversationId: 'g1',
  clientMsgId: 'c-1',
  senderId: 'bob',
  type: 'TEXT',
  body: 'hello',
  priority: 'HIGH',
  visibility: 'NORMAL',
  targets: [],
  sentAt: now,
}

/** Pipes what the driver re-routed to a topic into it again, where it was sent. */
async function deliverReroutes(topic: string): Promise<number> {
  const copies = driver.read(topic)
  for (const c of copies) {
    await driver.pipe(topic, {
      key: c.key,
      value: c.value,
      timestamp: now,
      ...(c.partition === undefined ? {} : { partition: c.partition }),
      ...(c.headers ? { headers: c.headers } : {}),
    } satisfies PipedRecord)
  }
  return copies.length
}

beforeEach(async () => {
  codecs = await receiverCodecs()
  driver = new TopologyTestDriver(
    receiverTopology({ topics, codecs, unit: 1, userPartitions: PARTITIONS, clock: () => now }),
    { partitions: PARTITIONS },
  )
})

describe('misplaced records', () => {
  it('re-routes a conversation event and a message to the partition that owns the conversation', async () => {
    // A producer keyed by something else entirely: the owner comes from the value.
    await driver.pipe(topics.conversations, {
      key: 'not-the-conversation',
      value: codecs.conversationEvent.encode(created),
      timestamp: now,
      partition: elsewhere,
    })
    const [copy] = driver.read(topics.conversations)
    expect(copy).toMatchObject({
      partition: owner,
      headers: { [REROUTED_FROM]: String(elsewhere) },
    })
    expect(copy?.key?.toString()).toBe('not-the-conversation')
    await driver.pipe(topics.conversations, {
      key: copy?.key ?? null,
      value: copy?.value ?? null,
      timestamp: now,
      partition: owner,
      headers: copy?.headers ?? {},
    })

    // Processed at the owner: its members are told there.
    expect(driver.read(topics.fanout).length).toBeGreaterThan(0)

    const wire = codecs.sendMessage.encode(message)
    await driver.pipe(topics.ingest, {
      key: 'g1',
      value: wire,
      timestamp: now,
      partition: elsewhere,
      headers: { 'imflow-request-id': 'r-1' },
    })
    // Nothing decided where it landed: no receipt, no hand-off, no state.
    expect(driver.read(topics.receipts)).toEqual([])
    expect(driver.read(topics.fanout)).toEqual([])
    const copies = driver.read(topics.ingest)
    expect(copies).toHaveLength(1)
    expect(copies[0]?.value?.equals(wire)).toBe(true)
    expect(copies[0]?.headers).toEqual({
      'imflow-request-id': 'r-1',
      [REROUTED_FROM]: String(elsewhere),
    })
    await driver.pipe(topics.ingest, {
      key: 'g1',
      value: copies[0]?.value ?? null,
      timestamp: now,
      partition: copies[0]?.partition ?? -1,
      headers: copies[0]?.headers ?? {},
    })
    const receipts = driver.read(topics.receipts)
    expect(receipts).toHaveLength(1)
    expect(receipts[0]?.headers).toEqual({ 'imflow-request-id': 'r-1' })
    const receipt = await codecs.receipt.decode(receipts[0]?.value as Buffer)
    expect(receipt.outcome.kind).toBe('Accepted')
    expect(await deliverReroutes(topics.ingest)).toBe(0)
  })

  it('dead-letters a misplaced record too large to travel again with its header', async () => {
    const dead: string[] = []
    driver = new TopologyTestDriver(
      receiverTopology({ topics, codecs, unit: 1, userPartitions: PARTITIONS, clock: () => now }),
      {
        partitions: PARTITIONS,
        deadLetters: { topic: 'dlq', encode: (l) => Buffer.from(l.errorCode) },
      },
    )
    const wire = codecs.sendMessage.encode({ ...message, body: 'x'.repeat(1_048_400) })
    await driver.pipe(topics.ingest, {
      key: 'g1',
      value: wire,
      timestamp: now,
      partition: elsewhere,
    })
    for (const r of driver.read('dlq')) dead.push(String(r.value))
    expect(dead).toEqual(['IMF_ERR_RECORD_TOO_LARGE'])
    expect(driver.read(topics.ingest)).toEqual([])
  })

  it('never re-routes a copy again: it is processed where it is', async () => {
    await driver.pipe(topics.ingest, {
      key: 'g1',
      value: codecs.sendMessage.encode(message),
      timestamp: now,
      partition: elsewhere,
      headers: { [REROUTED_FROM]: String(owner) },
    })
    expect(driver.read(topics.ingest)).toEqual([])
    const [receipt] = driver.read(topics.receipts)
    expect((await codecs.receipt.decode(receipt?.value as Buffer)).outcome).toMatchObject({
      kind: 'Rejected',
      reason: 'UNKNOWN_CONVERSATION',
    })
  })

  it('leaves a record where it is without a partition count, and skips it for a skipping source', () => {
    const record = {
      topic: 'im.actions',
      partition: elsewhere,
      offset: '0',
      timestamp: now,
      key: null,
      value: { conversationId: 'g1' },
      headers: {},
    }
    const skip = { topic: 'im.actions', owner: byConversation('skip') }
    expect(placement(skip, record, null, undefined)).toEqual({ kind: 'here' })
    expect(placement(skip, record, null, PARTITIONS)).toEqual({ kind: 'skip', owner })
    expect(placement(skip, { ...record, partition: owner }, null, PARTITIONS)).toEqual({
      kind: 'here',
    })
    expect(placement({ topic: 'im.actions' }, record, null, PARTITIONS)).toEqual({ kind: 'here' })
  })

  it('notices each producer once per topic, within a bound', () => {
    const once = new OncePerProducer(2)
    expect(once.first('t', '7')).toBe(true)
    expect(once.first('t', '7')).toBe(false)
    expect(once.first('u', '7')).toBe(true)
    expect(once.first('t', undefined)).toBe(true)
    expect(once.first('t', '-1')).toBe(false)
  })
})
