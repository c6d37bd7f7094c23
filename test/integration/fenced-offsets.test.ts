// Offsets committed in a transaction with the consumer group's metadata (KIP-447,
// ops/kafkajs-fenced-offsets.ts + ops/kafkajs-group-generation.ts), on the real broker: a
// member's offsets with its current generation commit; after the group moved on, a
// transaction carrying the old generation (or a member that left) gets no offset committed,
// and the same producer goes on with the current one.

import { type Consumer, type Kafka, Partitioners, type Producer } from 'kafkajs'
import { afterEach, describe, expect, it } from 'vitest'
import { isImflowError } from '../../ops/errors.js'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { sendOffsetsWithGroupMetadata } from '../../ops/kafkajs-fenced-offsets.js'
import {
  type GroupGeneration,
  groupGenerationTracked,
  trackGroupGeneration,
} from '../../ops/kafkajs-group-generation.js'
import type { GroupMetadata } from '../../ops/txn-offset-commit-v3.js'
import { createTaskProducer, isFenced } from '../../topologies/runtime/internal/kafka-io.js'
import { eventually, testKafka, transactionalProducer, unique, withAdmin } from './helpers.js'

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close().catch(() => {})
})

async function member(kafka: Kafka, groupId: string, topic: string) {
  const consumer: Consumer = kafka.consumer({ groupId, heartbeatInterval: 300 })
  const generation: GroupGeneration = trackGroupGeneration(consumer)
  await consumer.connect()
  cleanup.push(() => consumer.disconnect())
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({ autoCommit: false, eachMessage: async () => {} })
  return { consumer, generation }
}

async function connectedProducer(kafka: Kafka): Promise<Producer> {
  const producer = transactionalProducer(kafka, 'fenced-offsets')
  await producer.connect()
  cleanup.push(() => producer.disconnect())
  return producer
}

/** One transaction: a record to `out`, and the offsets with the given group metadata. */
async function commitWith(
  producer: Producer,
  out: string,
  group: GroupMetadata,
  topic: string,
  offsets: [number, string][],
): Promise<void> {
  const txn = await producer.transaction()
  try {
    await txn.send({ topic: out, messages: [{ value: 'v', partition: 0 }] })
    await sendOffsetsWithGroupMetadata(txn, {
      ...group,
      topics: [
        { topic, partitions: offsets.map(([partition, offset]) => ({ partition, offset })) },
      ],
    })
    await txn.commit()
  } catch (err) {
    await txn.abort()
    throw err
  }
}

async function committed(groupId: string, topic: string): Promise<Record<number, string>> {
  const [entry] = await withAdmin((admin) => admin.fetchOffsets({ groupId, topics: [topic] }))
  return Object.fromEntries((entry?.partitions ?? []).map((p) => [p.partition, p.offset]))
}

async function topics(): Promise<{ topic: string; out: string; groupId: string }> {
  const [topic, out] = [unique('fenced-in'), unique('fenced-out')]
  await withAdmin((admin) =>
    createTopicsAndWait(admin, [
      { topic, numPartitions: 2 },
      { topic: out, numPartitions: 1 },
    ]),
  )
  // Records to commit positions in: a committed offset past the log's end would be reset by
  // the next member (kafkajs commits its fromBeginning marker, -2, then).
  const producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  try {
    for (const partition of [0, 1]) {
      const messages = Array.from({ length: 10 }, (_, i) => ({ value: `r${i}`, partition }))
      await producer.send({ topic, messages })
    }
  } finally {
    await producer.disconnect()
  }
  return { topic, out, groupId: unique('fenced-group') }
}

const joined = (g: GroupGeneration, after = -1) =>
  eventually(
    () => {
      const current = g.current()
      return current && current.generationId > after ? current : undefined
    },
    { timeoutMs: 60_000, what: 'the consumer in the group' },
  )

describe('offsets fenced by the consumer group generation (KIP-447)', () => {
  it('kafkajs’ group joins carry the generation', () => {
    expect(groupGenerationTracked()).toBe(true)
  })

  it('commits a member’s offsets with its current generation', { timeout: 120_000 }, async () => {
    const kafka = testKafka()
    const { topic, out, groupId } = await topics()
    const a = await member(kafka, groupId, topic)
    const group = await joined(a.generation)
    const described = await withAdmin((admin) => admin.describeGroups([groupId]))
    expect(described.groups[0]?.members.map((m) => m.memberId)).toEqual([group.memberId])
    expect(group).toMatchObject({ groupId, groupInstanceId: null })

    await commitWith(await connectedProducer(kafka), out, group, topic, [
      [0, '5'],
      [1, '7'],
    ])
    expect(await committed(groupId, topic)).toEqual({ 0: '5', 1: '7' })
  })

  it('refuses the offsets of a generation the group moved past, and of a member that left', {
    timeout: 180_000,
  }, async () => {
    const kafka = testKafka()
    const { topic, out, groupId } = await topics()
    const a = await member(kafka, groupId, topic)
    const old = await joined(a.generation)
    const b = await member(kafka, groupId, topic)
    // A second member joined: the group rebalanced, both are in the next generation.
    const current = await joined(a.generation, old.generationId)
    const bGroup = await joined(b.generation, old.generationId)
    expect(bGroup.generationId).toBe(current.generationId)
    expect(current.memberId).toBe(old.memberId)

    const producer = await connectedProducer(kafka)
    const fenced = await commitWith(producer, out, old, topic, [[0, '5']]).catch((e) => e)
    expect(isImflowError(fenced, 'IMF_ERR_GROUP_FENCED')).toBe(true)
    expect(fenced.details).toMatchObject({ brokerError: 'ILLEGAL_GENERATION', ...old })
    expect(await committed(groupId, topic)).toEqual({ 0: '-1', 1: '-1' })

    // The same producer goes on: the current generation commits.
    await commitWith(producer, out, current, topic, [[0, '6']])
    expect(await committed(groupId, topic)).toEqual({ 0: '6', 1: '-1' })

    // A leaves: its member id is no longer the group's.
    await a.consumer.disconnect()
    await joined(b.generation, bGroup.generationId)
    const gone = await commitWith(producer, out, current, topic, [[0, '9']]).catch((e) => e)
    expect(isImflowError(gone, 'IMF_ERR_GROUP_FENCED')).toBe(true)
    expect(gone.details.brokerError).toBe('UNKNOWN_MEMBER_ID')
    expect(await committed(groupId, topic)).toEqual({ 0: '6', 1: '-1' })
  })

  it('the runtime’s producer commits with the membership it is given, and a stale one is fenced', {
    timeout: 180_000,
  }, async () => {
    const kafka = testKafka()
    const { topic, out, groupId } = await topics()
    const a = await member(kafka, groupId, topic)
    const old = await joined(a.generation)
    const producer = await createTaskProducer(kafka, unique('fenced-task'))
    cleanup.push(() => producer.disconnect())
    const commit = async (group: GroupMetadata, nextOffset: number) => {
      const txn = await producer.begin()
      try {
        await txn.send([{ topic: out, partition: 0, key: null, value: Buffer.from('v') }])
        await txn.sendOffsets(group, 0, [{ topic, nextOffset }])
        await txn.commit()
      } catch (err) {
        await txn.abort()
        throw err
      }
    }
    await commit(old, 3)
    expect(await committed(groupId, topic)).toEqual({ 0: '3', 1: '-1' })

    await member(kafka, groupId, topic)
    await joined(a.generation, old.generationId)
    const err = await commit(old, 4).catch((e) => e)
    expect(isImflowError(err, 'IMF_ERR_GROUP_FENCED')).toBe(true)
    expect(isFenced(err)).toBe(true)
    expect(await committed(groupId, topic)).toEqual({ 0: '3', 1: '-1' })
  })
})
