// A topology's internal topics: one compacted changelog per store, with as many partitions
// as its sources (task i's store is partition i of its changelog), and its repartition
// topics. A changelog created beside existing ones, for a topology whose group has positions,
// is a store added to a running topology: its tasks build it from the log when they open (by
// its declared fold, backfill.ts, or a shadow run, store-rebuild.ts), which the runner says
// (docs/replay.md, "Backfill").

import type { Kafka } from 'kafkajs'
import { ImflowError } from '../../../ops/errors.js'
import { createMissingTopics } from '../../../ops/kafka-admin.js'
import { retry } from '../../../ops/retry.js'
import { changelogTopic } from '../changelog.js'
import type { TopologyDefinition } from '../topology.js'

export interface Provisioned {
  /** The sources' (co-partitioned) partition count. */
  readonly partitions: number
  /** Stores whose changelog was created now while the group had committed positions. */
  readonly lateStores: readonly string[]
}

/** Creates what is missing; see Provisioned. */
export async function provisionChangelogs(
  kafka: Kafka,
  appId: string,
  topology: TopologyDefinition,
  replicationFactor?: number,
): Promise<Provisioned> {
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
    const created = await createMissingTopics(
      admin,
      wanted.map(({ topic, policy }) => ({
        topic,
        numPartitions: partitions,
        ...(replicationFactor === undefined ? {} : { replicationFactor }),
        configEntries: [{ name: 'cleanup.policy', value: policy }],
      })),
    )
    const newStores = stores.filter((s) =>
      created.includes(changelogTopic(appId, topology.name, s)),
    )
    // All stores new is a new app id, also one whose positions a replay --into has just set
    // (docs/replay.md): only a store beside others that ran is one added late.
    if (newStores.length === 0 || newStores.length === stores.length) {
      return { partitions, lateStores: [] }
    }
    // Only on a first start of a store: one look at the group's positions. It serves a
    // warning, so it never holds up a start: a coordinator still loading (a broker just
    // back) gets a few retries, then no warning.
    const positions = await retry(
      () =>
        admin.fetchOffsets({
          groupId: `${appId}-${topology.name}`,
          topics: topology.sources.map((s) => s.topic),
        }),
      { retries: 3 },
    ).catch(() => [])
    const started = positions.some((t) => t.partitions.some((p) => Number(p.offset) >= 0))
    return { partitions, lateStores: started ? newStores : [] }
  } finally {
    await admin.disconnect()
  }
}
