// Topic administration that holds up on a fresh KRaft broker. kafkajs' createTopics with
// waitForLeaders gives up when the metadata right after creation still says
// UNKNOWN_TOPIC_OR_PARTITION (it retries only LEADER_NOT_AVAILABLE); we wait ourselves.
// And a leader named in the metadata may not serve its partition yet: a produce then fails
// with NOT_LEADER_OR_FOLLOWER, and kafkajs retries the whole send, partitions that took it
// too, so a producer that is not idempotent writes those records twice. Topics are ready
// once every partition answers ListOffsets, which only its serving leader does.

import type { Admin, ITopicConfig } from 'kafkajs'
import { retry } from './retry.js'

class LeadersPending extends Error {
  readonly retriable = true
}

/**
 * Creates those of the topics that do not exist yet (waiting for their leaders) and returns
 * their names. Every topic imflow creates goes through here: the contract's, the runtime's
 * changelogs and repartition topics, and the topics a topology needs before it starts.
 */
export async function createMissingTopics(admin: Admin, topics: ITopicConfig[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics())
  const missing = topics.filter((t) => !existing.has(t.topic))
  if (missing.length > 0) await createTopicsAndWait(admin, missing)
  return missing.map((t) => t.topic)
}

/** Creates the topics and resolves once every partition of each has a serving leader. */
export async function createTopicsAndWait(admin: Admin, topics: ITopicConfig[]): Promise<void> {
  await admin.createTopics({ topics, waitForLeaders: false })
  await waitForLeaders(
    admin,
    topics.map((t) => t.topic),
  )
}

export async function waitForLeaders(
  admin: Admin,
  names: string[],
  { retries = 30 }: { retries?: number } = {},
): Promise<void> {
  await retry(
    async () => {
      const { topics } = await admin.fetchTopicMetadata({ topics: names })
      const pending = topics.filter(
        (t) => t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0),
      )
      if (pending.length > 0) {
        throw new LeadersPending(`no leader yet for ${pending.map((t) => t.name).join(', ')}`)
      }
      for (const name of names) {
        // Any failure here is a partition not served yet, whatever kafkajs makes of the
        // answer: a ListOffsets response without the partition throws a TypeError inside
        // kafkajs (`low.pop(...)` undefined), seen on a loaded machine.
        await admin.fetchTopicOffsets(name).catch((err: unknown) => {
          throw new LeadersPending(`${name} not served yet: ${(err as Error).message}`)
        })
      }
    },
    { retries, initialDelayMs: 50, maxDelayMs: 1_000 },
  )
}
