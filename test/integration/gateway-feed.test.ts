// The push gateway's feed of im.sync and im.rooms is never left down: a consumer kafkajs gives
// up on (an error it does not retry: no group coordinator while a broker comes back, here an
// error thrown by a delivery) is replaced by a new one, which goes on where the first stopped.

import { describe, expect, it } from 'vitest'
import { startGatewayFeed } from '../../connectors/push-gateway/gateway-feed.js'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { silentLogger } from '../../ops/log.js'
import { eventually, testKafka, unique, withAdmin } from './helpers.js'

describe('gateway feed', () => {
  it('replaces a consumer kafkajs gave up on, and goes on where it stopped', {
    timeout: 120_000,
  }, async () => {
    const topic = unique('feed')
    await withAdmin((admin) => createTopicsAndWait(admin, [{ topic, numPartitions: 1 }]))
    const kafka = testKafka()
    const delivered: string[] = []
    let failures = 0
    const feed = await startGatewayFeed({
      kafka,
      groupId: unique('feed-group'),
      log: silentLogger,
      topics: [
        {
          topic,
          decode: async (bytes) => bytes.toString(),
          deliver(event) {
            if (event === 'poison' && failures++ === 0)
              // Not retriable: kafkajs crashes the consumer and does not restart it.
              throw Object.assign(new Error('delivery failed'), { retriable: false })
            delivered.push(event as string)
          },
        },
      ],
    })
    const producer = kafka.producer()
    await producer.connect()
    try {
      await producer.send({ topic, messages: [{ value: 'before' }, { value: 'poison' }] })
      await eventually(() => (failures > 0 ? true : undefined), { what: 'the failed delivery' })
      await producer.send({ topic, messages: [{ value: 'after' }] })
      await eventually(() => (delivered.includes('after') ? true : undefined), {
        timeoutMs: 60_000,
        what: 'a delivery by the new consumer',
      })
      expect(delivered).toEqual(['before', 'poison', 'after'])
      await eventually(() => (feed.healthy() ? true : undefined), { what: 'healthy again' })
    } finally {
      await producer.disconnect()
      await feed.stop()
    }
  })
})
