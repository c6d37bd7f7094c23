// Bad input is never fatal: garbage bytes, a truncated record, a wrong magic byte and an
// unregistered schema id each land in the dead-letter topic with their raw bytes and origin,
// read by a real consumer, while the good records around them are processed.

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { createEventCodec, type EventCodec } from '../../schemas/codec.js'
import { registrySchemaSource } from '../../schemas/schema-source.js'
import type { DeadLetter, SendMessage } from '../../schemas/types.generated.js'
import { decodeOrDeadLetter, kafkaDeadLetterSink } from '../../topologies/runtime/dead-letters.js'
import { eventually, testKafka, unique, withAdmin } from './helpers.js'

const source = unique('dlq-source')
const deadLetterTopic = unique('dlq')
const kafka = testKafka()

function message(clientMsgId: string): SendMessage {
  return {
    conversationId: 'c-1',
    clientMsgId,
    senderId: 'u-1',
    type: 'TEXT',
    body: `body of ${clientMsgId}`,
    priority: 'HIGH',
    visibility: 'NORMAL',
    targets: [],
    sentAt: 1_763_000_000_000,
  }
}

describe('dead letters', () => {
  let ingest: EventCodec<SendMessage>
  let letters: EventCodec<DeadLetter>

  beforeAll(async () => {
    await withAdmin((admin) =>
      createTopicsAndWait(admin, [
        { topic: source, numPartitions: 1 },
        { topic: deadLetterTopic, numPartitions: 1 },
      ]),
    )
    const registry = registrySchemaSource(inject('schemaRegistryUrl'))
    ingest = await createEventCodec(registry, `${source}-value`, 'SendMessage')
    letters = await createEventCodec(registry, `${deadLetterTopic}-value`, 'DeadLetter')
  })
  afterAll(async () => {
    await withAdmin((admin) => admin.deleteTopics({ topics: [source, deadLetterTopic] }))
  })

  it('routes each kind of bad record to the dead-letter topic and keeps the partition flowing', async () => {
    const good = ingest.encode(message('first'))
    const bad: { name: string; value: Buffer; code: string }[] = [
      { name: 'garbage', value: Buffer.from('this is not avro at all'), code: 'IMF_ERR_NOT_AVRO' },
      { name: 'truncated', value: good.subarray(0, good.length - 6), code: 'IMF_ERR_DECODE' },
      {
        name: 'wrong magic',
        value: Buffer.concat([Buffer.from([7]), good.subarray(1)]),
        code: 'IMF_ERR_NOT_AVRO',
      },
      {
        name: 'unregistered id',
        value: Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0]), good.subarray(5)]),
        code: 'IMF_ERR_UNKNOWN_SCHEMA',
      },
    ]
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({
      topic: source,
      messages: [
        { key: 'c-1', value: good },
        ...bad.map((b) => ({ key: 'c-1', value: b.value, headers: { case: b.name } })),
        { key: 'c-1', value: ingest.encode(message('last')) },
      ],
    })

    const processed: string[] = []
    const sink = kafkaDeadLetterSink(producer, deadLetterTopic, letters)
    const consumer = kafka.consumer({ groupId: unique('dlq-group') })
    await consumer.connect()
    await consumer.subscribe({ topic: source, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ topic, partition, message: m }) => {
        const value = await decodeOrDeadLetter({ topic, partition, ...m }, ingest, sink, 'dlq-test')
        if (value) processed.push(value.clientMsgId)
      },
    })

    const found: DeadLetter[] = []
    const reader = kafka.consumer({ groupId: unique('dlq-reader') })
    await reader.connect()
    await reader.subscribe({ topic: deadLetterTopic, fromBeginning: true })
    await reader.run({
      eachMessage: async ({ message: m }) => {
        if (m.value) found.push(await letters.decode(m.value))
      },
    })
    try {
      await eventually(
        () => (processed.length === 2 && found.length === bad.length ? true : undefined),
        {
          what: 'both good records processed and every bad one dead-lettered',
        },
      )
      expect(processed).toEqual(['first', 'last'])
      expect(found.map((l) => l.headers[0]?.value?.toString())).toEqual(bad.map((b) => b.name))
      for (const [i, letter] of found.entries()) {
        expect(letter.errorCode).toBe(bad[i]?.code)
        expect(letter.value?.equals(bad[i]?.value as Buffer)).toBe(true)
        expect(letter.key?.toString()).toBe('c-1')
        expect(letter).toMatchObject({
          sourceTopic: source,
          sourcePartition: 0,
          sourceOffset: i + 1,
          stage: 'decode',
        })
        expect(letter.errorMessage.length).toBeGreaterThan(0)
      }
    } finally {
      await Promise.all([consumer.disconnect(), reader.disconnect()])
      await producer.disconnect()
    }
  })
})
