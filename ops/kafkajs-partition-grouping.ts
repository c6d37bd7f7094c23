// kafkajs groups a produce request's records by partition copying the partition's list for
// every record (`[...current, message]`): quadratic in the records of a partition (10,000 take
// ~250 ms of the event loop; kafkajs PR #1576, never merged). A profile of the counting
// topology had 8% of its CPU there, and garbage for the collector besides. The same
// grouping in linear time, put in kafkajs' place before it loads (ops/kafkajs-fixes.ts).

import { isPrimed, prime } from './kafkajs-prime.js'

interface GroupingInput<M> {
  topic: string
  partitionMetadata: readonly unknown[]
  messages: readonly M[]
  partitioner: (args: {
    topic: string
    partitionMetadata: readonly unknown[]
    message: M
  }) => number
}

/** The records per partition, in their order: what kafkajs' groupMessagesPerPartition returns. */
export function groupMessagesPerPartition<M>({
  topic,
  partitionMetadata,
  messages,
  partitioner,
}: GroupingInput<M>): Record<number, M[]> {
  const grouped: Record<number, M[]> = {}
  if (partitionMetadata.length === 0) return grouped
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message })
    const list = grouped[partition]
    if (list) list.push(message)
    else grouped[partition] = [message]
  }
  return grouped
}

const MODULE = 'kafkajs/src/producer/groupMessagesPerPartition.js'
prime(MODULE, groupMessagesPerPartition)

/** Whether kafkajs' producers group records with the linear version (false: kafkajs was loaded first). */
export function partitionGroupingFixed(): boolean {
  return isPrimed(MODULE, groupMessagesPerPartition)
}
