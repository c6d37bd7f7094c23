// A topology's internal topics: one compacted changelog per store, with as many partitions
// as its sources (task i's store is partition i of its changelog), and its repartition
// topics.

import type { Kafka } from 'kafkajs'
import { ImflowError } from '../../../ops/errors.js'
import { createMissingTopics } from '../../../ops/kafka-admin.js'
import { retry } from '../../../ops/retry.js'
import { changelogTopic } from '../changelog.js'
import type { TopologyDefinition } from '../topology.js'

/** Creates what is missing and returns the sources' (co-partitioned) partition count. */
export async function provisionChangelogs(
  kafka: Kafka,
  appId: string,
  topology: TopologyDefinition,
  replicationFactor?: number,
): Promise<number> {
  const stores = topology.stores ?? []
  const repartition = topology.internalTopics ?? []
  const admin = kafka.admin()
  await admin.connect()
  try {
    // A source created a moment ago may not be in the metadata yet.
    const { topics } = await retry(() =>
      admin.fetchTopicMetadata({ topics: topology.sources.map((s) => s.topic) }),
    )
    const counts = new Set(topics.map((t) => t.partitions.length))
    if (counts.size !== 1) {
      throw new ImflowError(
        'IMF_ERR_TOPIC_MISMATCH',
        `topology ${topology.name}: its sources must be co-partitioned, but have ${topics.map((t) => `${t.name}=${t.partitions.length}`).join(', ')} partitions`,
      )
    }
    const partitions = [...counts][0] as number
    const wanted = [
      ...stores.map((s) => ({ topic: changelogTopic(appId, topology.name, s), policy: 'compact' })),
      ...repartition.map((topic) => ({ topic, policy: 'delete' })),
    ]
    await createMissingTopics(
      admin,
      wanted.map(({ topic, policy }) => ({
        topic,
        numPartitions: partitions,
        ...(replicationFactor === undefined ? {} : { replicationFactor }),
        configEntries: [{ name: 'cleanup.policy', value: policy }],
      })),
    )
    return partitions
  } finally {
    await admin.disconnect()
  }
}
