// A commit that failed without an answer (the broker went away mid-commit, the client's
// state broke) may have committed anyway. Retrying the slice blindly would then write its
// outputs twice. The way to know: a new producer with the task's transactional id makes
// the coordinator finish (or abort) the old transaction, and then the group's committed
// offset for the partition says which it was — the offset commits with the transaction.

import type { Kafka } from 'kafkajs'
import { fetchStableOffsets } from '../../../ops/kafkajs-stable-offsets.js'
import type { Logger } from '../../../ops/log.js'
import { isFenced, type TaskProducer } from './kafka-io.js'
import type { GroupCommit } from './start-position.js'

/**
 * The task's state can no longer be trusted to match Kafka (a commit whose outcome stayed
 * unknown): the runner closes it without a checkpoint and starts a new consumer, which
 * resumes from the committed offsets; the task restores from its changelog.
 */
export class TaskCorruptedError extends Error {}

/**
 * A failed commit that carried no input position (a punctuation's outputs and writes alone):
 * nothing tells whether it went through, so the task restores what its changelogs committed
 * rather than redo the punctuation and maybe send its outputs twice.
 */
export function unsettledCommit(task: string, cause: unknown): TaskCorruptedError {
  return new TaskCorruptedError(
    `task ${task}: a commit without input positions failed and its outcome cannot be asked; restoring from the changelogs`,
    { cause },
  )
}

/**
 * How long the outcome is asked for while the broker does not answer: longer than a broker
 * restart takes, since giving up costs a full restore and a new group member.
 */
const SETTLE_FOR_MS = 300_000
const MAX_DELAY_MS = 1_000

/** The group's committed offset of one partition (-1 when none). */
export async function committedOffset(
  kafka: Kafka,
  groupId: string,
  topic: string,
  partition: number,
): Promise<number> {
  return (await committedOffsets(kafka, groupId, [topic], partition)).get(topic)?.offset ?? -1
}

/**
 * The group's commits of a partition of each topic, offset and metadata (the topics without
 * one left out).
 * `stable`: read with require_stable (KIP-447), waiting while a transaction holds them open —
 * with one producer per thread, a task that moved may find its old owner's transaction still
 * open, and nothing (no producer with the task's id) ends it for the reader.
 */
export async function committedOffsets(
  kafka: Kafka,
  groupId: string,
  topics: readonly string[],
  partition: number,
  stable = false,
): Promise<Map<string, GroupCommit>> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const found = new Map<string, GroupCommit>()
    const query = { groupId, topics: [...topics] }
    const offsets = stable
      ? await fetchStableOffsets(admin, { ...query, partitions: [partition] })
      : await admin.fetchOffsets(query)
    for (const { topic, partitions } of offsets) {
      const commit = partitions.find((p) => p.partition === partition)
      const offset = Number(commit?.offset ?? -1)
      if (offset >= 0) found.set(topic, { offset, metadata: commit?.metadata ?? null })
    }
    return found
  } finally {
    await admin.disconnect().catch(() => {})
  }
}

export interface UnknownCommit {
  kafka: Kafka
  producer: TaskProducer
  groupId: string
  topic: string
  partition: number
  /** The offset the transaction committed for the partition, had it gone through. */
  next: number
  taskId: string
  log: Logger
  cause: unknown
}

/**
 * Whether a commit that failed went through after all: a new producer settles the old
 * transaction, then the committed offset tells. Never known within SETTLE_FOR_MS: the task
 * is corrupted (TaskCorruptedError).
 */
export async function committedAnyway(commit: UnknownCommit): Promise<boolean> {
  const { kafka, producer, groupId, topic, partition, next, taskId, log } = commit
  log.warn('a commit failed; finding out whether it went through', {
    task: taskId,
    error: String(commit.cause),
  })
  const giveUpAt = Date.now() + SETTLE_FOR_MS
  for (let attempt = 1; ; attempt++) {
    try {
      await producer.reset()
      await producer.ready()
      const committed = (await committedOffset(kafka, groupId, topic, partition)) === next
      log.info('the failed commit is settled', { task: taskId, committed })
      return committed
    } catch (err) {
      if (isFenced(err)) throw err
      if (Date.now() >= giveUpAt)
        throw new TaskCorruptedError(`task ${taskId}: a commit's outcome stayed unknown`, {
          cause: err,
        })
      await new Promise((r) => setTimeout(r, Math.min(MAX_DELAY_MS, 50 * 2 ** attempt)))
    }
  }
}
