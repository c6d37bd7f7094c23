// One transaction of a store built from the log (a fold backfill, backfill.ts, or a shadow
// run's copy, store-rebuild.ts): the store's unsent writes and its progress record in its
// changelog, with the task's own producer, then into RocksDB. Never committed: the store
// forgets the writes, and the next open restores up to the last progress and goes on.

import type { ChangeloggedStore } from '../../../state/index.js'
import { BACKFILL_KEY, changelogTopic, dataKey } from '../changelog.js'
import type { TopologyDefinition } from '../topology.js'
import { type BackfillProgress, encodeProgress } from './backfill-plan.js'
import type { EndOffsets, OutRecord, TaskProducer } from './kafka-io.js'

export interface ChunkContext {
  readonly appId: string
  readonly topology: TopologyDefinition
  readonly partition: number
  readonly producer: TaskProducer
  /** Where a transaction's changelog records ended, for the checkpoint. */
  ended(ends: EndOffsets): void
}

/** One transaction: the store's unsent writes and the progress record, then into RocksDB. */
export async function commitChunk(
  context: ChunkContext,
  name: string,
  store: ChangeloggedStore,
  progress: BackfillProgress,
): Promise<void> {
  const { appId, topology, partition } = context
  const changelog = changelogTopic(appId, topology.name, name)
  const records: OutRecord[] = store
    .takeUnsent()
    .map((op) => ({ topic: changelog, partition, key: dataKey(op.key), value: op.value }))
  records.push({ topic: changelog, partition, key: BACKFILL_KEY, value: encodeProgress(progress) })
  let ends: EndOffsets
  try {
    const txn = await context.producer.begin()
    try {
      ends = await txn.send(records)
      await txn.commit()
    } catch (err) {
      await txn.abort().catch(() => {})
      throw err
    }
  } catch (err) {
    // Never committed: the next open restores up to the last progress and goes on from there.
    store.rollback()
    throw err
  }
  context.ended(ends)
  await store.commit()
  await store.landed()
}
