// A group's offsets set while nobody is in it (ops/group-offsets.ts), through the real broker:
// taken for an empty or new group, refused for a group a consumer has joined.

import { describe, expect, it } from 'vitest'
import { setGroupOffsets } from '../../ops/group-offsets.js'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { eventually, testKafka, unique, withAdmin } from './helpers.js'

describe('setGroupOffsets', () => {
  const kafka = testKafka()

  it('sets a new group’s offsets, and refuses while a consumer is in the group', async () => {
    const topic = unique('group-offsets')
    const groupId = `${topic}-group`
    await withAdmin(async (admin) => {
      await createTopicsAndWait(admin, [{ topic, numPartitions: 2 }])
      await setGroupOffsets(kafka, admin, groupId, [
        {
          topic,
          partitions: [
            { partition: 0, offset: '3' },
            { partition: 1, offset: '0' },
          ],
        },
      ])
      const [set] = await admin.fetchOffsets({ groupId, topics: [topic] })
      expect(set?.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([
        [0, '3'],
        [1, '0'],
      ])

      const consumer = kafka.consumer({ groupId })
      await consumer.connect()
      try {
        let joined = false
        consumer.on(consumer.events.GROUP_JOIN, () => {
          joined = true
        })
        await consumer.subscribe({ topic })
        await consumer.run({ eachMessage: async () => {} })
        await eventually(() => joined || undefined, { what: 'the consumer to join' })
        const refused = await setGroupOffsets(kafka, admin, groupId, [
          { topic, partitions: [{ partition: 0, offset: '0' }] },
        ]).catch((err: { type?: string }) => err)
        expect((refused as { type?: string } | undefined)?.type).toBe('UNKNOWN_MEMBER_ID')
      } finally {
        await consumer.disconnect()
      }
    })
  })
})
