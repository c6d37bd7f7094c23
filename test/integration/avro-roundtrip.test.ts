// An Avro record through the real broker, its schema registered in the real registry, in the
// Confluent wire format (magic byte 0, 4-byte schema id, Avro body).

import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { eventually, testKafka, unique, withAdmin } from './helpers.js'

const schema = {
  type: 'record',
  name: 'Ping',
  namespace: 'dev.imflow.test',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'sentAt', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'tags', type: { type: 'array', items: 'string' } },
    { name: 'note', type: ['null', 'string'], default: null },
  ],
}

describe('Avro through Kafka and the schema registry', () => {
  const topic = unique('avro-roundtrip')
  const registry = new SchemaRegistry({ host: inject('schemaRegistryUrl') })
  const kafka = testKafka()

  beforeAll(async () => {
    await withAdmin((admin) => createTopicsAndWait(admin, [{ topic, numPartitions: 1 }]))
  })
  afterAll(async () => {
    await withAdmin((admin) => admin.deleteTopics({ topics: [topic] }))
  })

  it('produces and consumes a record encoded with a registered schema', async () => {
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject: `${topic}-value` },
    )
    expect(id).toBeGreaterThan(0)
    expect(await registry.getLatestSchemaId(`${topic}-value`)).toBe(id)

    const value = {
      id: 'm-1',
      sentAt: Date.parse('2026-11-23T10:00:00.123Z'),
      tags: ['a', 'b'],
      note: 'hello',
    }
    const encoded = await registry.encode(id, value)
    expect(encoded[0]).toBe(0)
    expect(encoded.readUInt32BE(1)).toBe(id)

    const producer = kafka.producer()
    await producer.connect()
    await producer.send({ topic, messages: [{ key: 'm-1', value: encoded }] })
    await producer.disconnect()

    const consumer = kafka.consumer({ groupId: unique('avro-roundtrip-group') })
    const received: unknown[] = []
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (message.value) received.push(await registry.decode(message.value))
      },
    })
    try {
      const [decoded] = await eventually(() => (received.length > 0 ? received : undefined), {
        what: 'the record to come back',
      })
      expect(decoded).toEqual(value)
    } finally {
      await consumer.disconnect()
    }
  })
})
