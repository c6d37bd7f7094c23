// Sets a consumer group's committed offsets while nobody is in it, as the Java admin's
// alterConsumerGroupOffsets does: one OffsetCommit to the group's coordinator with no member
// and no generation (the broker takes it for an empty group and refuses it, with
// UNKNOWN_MEMBER_ID, for a group someone has joined). kafkajs' admin.setOffsets joins the
// group as a consumer, waits for its first fetch and leaves: 3-4 s per topic (a rebalance
// delay, a join, a fetch), 20-36 s of a small replay's setup (replay.test). Without kafkajs'
// cluster (another client version), admin.setOffsets it is.

import type { Admin, Kafka } from 'kafkajs'
import { clusterFactory } from './kafkajs-cluster.js'
import { retry } from './retry.js'

export interface TopicOffsets {
  readonly topic: string
  readonly partitions: readonly { readonly partition: number; readonly offset: string }[]
}

export async function setGroupOffsets(
  kafka: Kafka,
  admin: Admin,
  groupId: string,
  topics: readonly TopicOffsets[],
): Promise<void> {
  const create = clusterFactory(kafka)
  if (!create) {
    for (const { topic, partitions } of topics)
      await admin.setOffsets({ groupId, topic, partitions: [...partitions] })
    return
  }
  const cluster = create({ allowAutoTopicCreation: false })
  await cluster.connect()
  try {
    await retry(async () => {
      const coordinator = await cluster.findGroupCoordinator({ groupId })
      await coordinator.offsetCommit({
        groupId,
        groupGenerationId: -1,
        memberId: '',
        topics: topics.map((t) => ({ topic: t.topic, partitions: [...t.partitions] })),
      })
    })
  } finally {
    await cluster.disconnect().catch(() => {})
  }
}
