import kafkajs from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { provisionTopics } from '../../ops/app/provision-topics.js'
import { isImflowError } from '../../ops/errors.js'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { silentLogger } from '../../ops/log.js'
import { contractTopics } from '../../schemas/topics.js'
import { testKafka, unique, withAdmin } from './helpers.js'

const { ConfigResourceTypes } = kafkajs

describe('provisioning the contract topics', () => {
  it('creates every topic with the configured partitions and compaction, then finds them', async () => {
    const topicPrefix = `${unique('prov')}.`
    await withAdmin(async (admin) => {
      const options = { topicPrefix, partitions: 3, replicationFactor: 1 }
      const first = await provisionTopics(admin, options, silentLogger)
      expect(first.map((t) => t.action)).toEqual(contractTopics.map(() => 'created'))

      const names = contractTopics.map((t) => `${topicPrefix}${t.base}`)
      const { topics } = await admin.fetchTopicMetadata({ topics: names })
      expect(topics.map((t) => t.partitions.length)).toEqual(names.map(() => 3))
      const configs = await admin.describeConfigs({
        includeSynonyms: false,
        resources: names.map((name) => ({
          type: ConfigResourceTypes.TOPIC,
          name,
          configNames: ['cleanup.policy'],
        })),
      })
      const policy = Object.fromEntries(
        configs.resources.map((r) => [r.resourceName, r.configEntries[0]?.configValue]),
      )
      expect(policy[`${topicPrefix}im.conversations`]).toBe('compact')
      expect(policy[`${topicPrefix}im.users`]).toBe('compact')
      expect(policy[`${topicPrefix}im.ingest`]).toBe('delete')

      const second = await provisionTopics(admin, options, silentLogger)
      expect(second.every((t) => t.action === 'exists')).toBe(true)
      await admin.deleteTopics({ topics: names })
    })
  })

  it('refuses an existing topic whose partition count differs, naming the fix', async () => {
    const topicPrefix = `${unique('prov-mismatch')}.`
    await withAdmin(async (admin) => {
      await createTopicsAndWait(admin, [{ topic: `${topicPrefix}im.ingest`, numPartitions: 2 }])
      const err = await provisionTopics(
        admin,
        { topicPrefix, partitions: 4, replicationFactor: 1 },
        silentLogger,
      ).catch((e) => e)
      expect(isImflowError(err, 'IMF_ERR_TOPIC_MISMATCH')).toBe(true)
      expect(err.message).toContain(`${topicPrefix}im.ingest has 2 partitions`)
      expect(err.message).toContain('IMFLOW_PARTITIONS=2')
      const created = (await admin.listTopics()).filter((t) => t.startsWith(topicPrefix))
      await admin.deleteTopics({ topics: created })
    })
  })

  it('returns once the new topics are served: a first send, never retried, lands on every partition', async () => {
    // A leader named in the metadata may not serve yet (NOT_LEADER_OR_FOLLOWER), and kafkajs
    // retries a failed send whole: a plain producer then writes the partitions that took it twice.
    const producer = testKafka().producer({ retry: { retries: 0 } })
    await producer.connect()
    try {
      await withAdmin(async (admin) => {
        const topics = Array.from({ length: 8 }, () => unique('served'))
        for (const topic of topics) {
          await createTopicsAndWait(admin, [{ topic, numPartitions: 4 }])
          const messages = [0, 1, 2, 3].map((partition) => ({ partition, value: topic }))
          await producer.send({ topic, messages })
          const offsets = await admin.fetchTopicOffsets(topic)
          expect(offsets.map((o) => o.high)).toEqual(['1', '1', '1', '1'])
        }
        await admin.deleteTopics({ topics })
      })
    } finally {
      await producer.disconnect()
    }
  })
})
