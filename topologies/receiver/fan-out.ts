// Fan-out by partition, not by person: an accepted message becomes one hand-off record per
// user-keyed partition that owns some of its recipients (split further only to keep records
// small), never one record per recipient.

import { partitionForKey } from '../runtime/index.js'

/** Recipients per hand-off record at most: 5,000 ids stay far below Kafka's 1 MB record limit. */
export const MAX_RECIPIENTS_PER_BATCH = 5_000

export interface PartitionShare {
  partition: number
  recipients: string[]
}

export function planFanOut(
  recipients: Iterable<string>,
  partitions: number,
  maxPerBatch = MAX_RECIPIENTS_PER_BATCH,
): PartitionShare[] {
  const byPartition = new Map<number, string[]>()
  for (const userId of recipients) {
    const partition = partitionForKey(userId, partitions)
    const list = byPartition.get(partition)
    if (list) list.push(userId)
    else byPartition.set(partition, [userId])
  }
  const shares: PartitionShare[] = []
  for (const [partition, users] of [...byPartition].sort(([a], [b]) => a - b)) {
    for (let i = 0; i < users.length; i += maxPerBatch) {
      shares.push({ partition, recipients: users.slice(i, i + maxPerBatch) })
    }
  }
  return shares
}
