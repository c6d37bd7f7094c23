// commitEveryMs (ops/lasting-consumer.ts): the position is committed on a timer and at stop,
// not after every batch as kafkajs' autoCommit does whatever its interval (an OffsetCommit
// round trip before each next fetch of the push gateway and the API's receipts).

import { describe, expect, it } from 'vitest'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { startLastingConsumer } from '../../ops/lasting-consumer.js'
import { silentLogger } from '../../ops/log.js'
import { eventually, testKafka, unique, withAdmin } from './helpers.js'

const MESSAGES = 10

async function committed(groupId: string, topic: string): Promise<number> {
  const [offsets] = await withAdmin((admin) => admin.fetchOffsets({ groupId, topics: [topic] }))
  return Number(offsets?.partitions[0]?.offset ?? -1)
}

describe('lasting consumer: commits on a timer', () => {
  it('commits neither per batch nor late: on its timer and at stop', {
    timeout: 120_000,
  }, async () => {
    const topic = unique('commits')
    await withAdmin((admin) => createTopicsAndWait(admin, [{ topic, numPartitions: 1 }]))
    const kafka = testKafka()
    const start = (groupId: string, commitEveryMs: number, seen: string[]) =>
      startLastingConsumer({
        kafka,
        config: { groupId, maxWaitTimeInMs: 50 },
        topics: [topic],
        fromBeginning: true,
        commitEveryMs,
        run: {
          eachMessage: async ({ message }) => {
            seen.push(String(message.value))
          },
        },
        log: silentLogger,
        what: 'the test',
      })
    const producer = kafka.producer()
    await producer.connect()
    // One message a batch: kafkajs' autoCommit would commit after each.
    for (let i = 0; i < MESSAGES; i++) {
      await producer.send({ topic, messages: [{ value: `m${i}` }] })
    }
    await producer.disconnect()

    const slowGroup = unique('commits-slow')
    const slowSeen: string[] = []
    const slow = await start(slowGroup, 60_000, slowSeen)
    try {
      await eventually(() => (slowSeen.length === MESSAGES ? true : undefined), {
        what: 'every message read',
      })
      await new Promise((r) => setTimeout(r, 1_000))
      expect(await committed(slowGroup, topic)).toBe(-1)
    } finally {
      await slow.stop()
    }
    expect(await committed(slowGroup, topic)).toBe(MESSAGES)

    const fastGroup = unique('commits-fast')
    const fastSeen: string[] = []
    const fast = await start(fastGroup, 300, fastSeen)
    try {
      await eventually(
        async () => ((await committed(fastGroup, topic)) === MESSAGES ? true : undefined),
        { what: 'the position committed by the timer' },
      )
      expect(fastSeen).toEqual(Array.from({ length: MESSAGES }, (_, i) => `m${i}`))
    } finally {
      await fast.stop()
    }
  })
})
