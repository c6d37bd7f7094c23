// A read_committed consumer must never see a record of an aborted transaction. kafkajs 2.2.4
// did, when a fetch began inside one producer's aborted transaction and its first record
// was another aborted producer's (the soak found it: a receipt of an aborted transaction, after
// an instance was SIGKILLed with several tasks' transactions open). ops/kafkajs-read-committed.ts
// puts the Java client's rule in its place; this writes that layout on the real broker and
// reads it from the middle.

import { describe, expect, it } from 'vitest'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { readCommittedFixed } from '../../ops/kafkajs-read-committed.js'
import { eventually, testKafka, transactionalProducer, unique, withAdmin } from './helpers.js'

describe('read_committed across interleaved aborted transactions', () => {
  it('kafkajs consumers use the fixed filter', () => {
    expect(readCommittedFixed()).toBe(true)
  })

  it('delivers no record of an aborted transaction when a fetch starts inside one', {
    timeout: 120_000,
  }, async () => {
    const kafka = testKafka()
    const topic = unique('aborted-interleaved')
    await withAdmin((admin) => createTopicsAndWait(admin, [{ topic, numPartitions: 1 }]))
    const producer = (id: string) => transactionalProducer(kafka, id)
    const [p1, p2, p3] = [producer('p1'), producer('p2'), producer('p3')]
    await Promise.all([p1.connect(), p2.connect(), p3.connect()])
    try {
      const t1 = await p1.transaction()
      const t2 = await p2.transaction()
      const record = (value: string) => ({ topic, messages: [{ value, partition: 0 }] })
      // Offsets: 0 p1, 1 p2, 2 p2, 3 p1; then both abort; then p3 commits one.
      await t1.send(record('aborted-p1-a'))
      await t2.send(record('aborted-p2-a'))
      await t2.send(record('aborted-p2-b'))
      await t1.send(record('aborted-p1-b'))
      await t1.abort()
      await t2.abort()
      const t3 = await p3.transaction()
      await t3.send(record('committed'))
      await t3.commit()
    } finally {
      await Promise.all([p1.disconnect(), p2.disconnect(), p3.disconnect()])
    }

    // A group positioned at offset 2: its first fetch starts inside both aborted transactions.
    const groupId = unique('aborted-reader')
    await withAdmin((admin) =>
      admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '2' }] }),
    )
    const seen: string[] = []
    const consumer = kafka.consumer({ groupId, readUncommitted: false })
    await consumer.connect()
    await consumer.subscribe({ topic })
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(String(message.value))
      },
    })
    try {
      await eventually(() => (seen.includes('committed') ? true : undefined), {
        timeoutMs: 60_000,
        what: 'the committed record',
      })
    } finally {
      await consumer.disconnect()
    }
    expect(seen).toEqual(['committed'])
  })
})
