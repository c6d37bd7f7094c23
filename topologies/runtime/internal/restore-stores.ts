// Opening a task's stores: a marker to each changelog partition (with a producer per task, this
// also fences any older producer of the task), then each changelog read from the checkpoint (or its start) up to
// the marker. Says where each changelog ended, for the next checkpoint, and what each one
// held, for its backfill (backfill-plan.ts). New stores to rebuild by a shadow run are marked
// in the markers' transaction (rebuild-plan.ts).

import type { Kafka } from 'kafkajs'
import type { Logger } from '../../../ops/log.js'
import type { TaskMetrics } from '../../../ops/metrics.js'
import { retry } from '../../../ops/retry.js'
import type { ChangeloggedStore, Checkpoint } from '../../../state/index.js'
import { changelogTopic, newMarker } from '../changelog.js'
import type { TopologyDefinition } from '../topology.js'
import { decodeProgress, type StoreHistory } from './backfill-plan.js'
import { type EndOffsets, type TaskProducer, topicPartition } from './kafka-io.js'
import { rebuildMarks } from './rebuild-plan.js'
import type { Restorer } from './restorer.js'

export interface RestoreContext {
  readonly kafka: Kafka
  readonly appId: string
  readonly topology: TopologyDefinition
  readonly partition: number
  readonly restorer: Restorer
  readonly log: Logger
  readonly metrics?: TaskMetrics | undefined
  readonly taskId: string
  readonly producer: TaskProducer
  readonly stores: ReadonlyMap<string, ChangeloggedStore>
}

/**
 * The checkpoint, unless it names an offset past the end of one of the task's changelog
 * partitions: then none, and the stores restore in full. A changelog deleted and created again
 * ends before the old one's checkpoint; restoring from there would never reach the marker and
 * would keep state the log no longer holds (Kafka Streams treats such a checkpoint as corrupt).
 */
export async function checkpointWithinChangelogs(
  context: Pick<RestoreContext, 'kafka' | 'appId' | 'topology' | 'partition' | 'log' | 'taskId'>,
  checkpoint: Checkpoint | undefined,
): Promise<Checkpoint | undefined> {
  if (!checkpoint) return undefined
  const { appId, topology, partition } = context
  const topics = (topology.stores ?? [])
    .map((store) => changelogTopic(appId, topology.name, store))
    .filter((topic) => checkpoint[topic] !== undefined)
  if (topics.length === 0) return checkpoint
  const admin = context.kafka.admin()
  await admin.connect()
  try {
    for (const topic of topics) {
      const offsets = await retry(() => admin.fetchTopicOffsets(topic))
      const end = Number(offsets.find((o) => o.partition === partition)?.high ?? 0)
      const at = checkpoint[topic] as number
      if (at > end) {
        context.log.warn('checkpoint past its changelog’s end: the stores restore in full', {
          task: context.taskId,
          changelog: topic,
          checkpoint: at,
          end,
        })
        return undefined
      }
    }
  } finally {
    await admin.disconnect()
  }
  return checkpoint
}

export interface Restored {
  /** Each changelog partition's offset after the marker. */
  readonly ends: EndOffsets
  readonly histories: ReadonlyMap<string, StoreHistory>
  /** The source positions the restored records carried (start-position.ts), latest per topic. */
  readonly positions: ReadonlyMap<string, number>
}

export async function restoreStores(
  context: RestoreContext,
  checkpoint: Readonly<Record<string, number>>,
): Promise<Restored> {
  const { topology, partition, appId, restorer, log, metrics, stores } = context
  const ends: EndOffsets = new Map()
  const histories = new Map<string, StoreHistory>()
  const positions = new Map<string, number>()
  const markers = [...stores.keys()].map((store) => ({
    store,
    topic: changelogTopic(appId, topology.name, store),
    marker: newMarker(),
  }))
  if (markers.length === 0) return { ends, histories, positions }
  const marks = await rebuildMarks(
    { appId, topology, partition, hasCommitted: (...a) => restorer.hasCommitted(...a) },
    async () => {
      const admin = context.kafka.admin()
      await admin.connect()
      return admin
    },
    checkpoint,
  )
  if (marks.stores.length > 0)
    log.info('new stores in a task that ran before: rebuilt from the log before it opens', {
      task: context.taskId,
      stores: marks.stores,
    })
  const txn = await context.producer.begin()
  try {
    // The marks before the markers: the restore reads them on its way to its marker.
    await txn.send([
      ...marks.records,
      ...markers.map((m) => ({ topic: m.topic, partition, key: m.marker, value: null })),
    ])
  } catch (err) {
    // Ended either way: a thread's shared transaction waits for every task that began in it.
    await txn.abort().catch(() => {})
    throw err
  }
  await txn.commit()
  // The runner keeps the group membership meanwhile: kafkajs heartbeats on its own while
  // no batch waits, and a batch waiting for this open heartbeats itself.
  const started = Date.now()
  try {
    for (const m of markers) {
      const store = stores.get(m.store) as ChangeloggedStore
      const from = checkpoint[m.topic] ?? 0
      const result = await restorer.restore(m.topic, partition, from, m.marker, (ops) =>
        store.restore(ops),
      )
      ends.set(topicPartition(m.topic, partition), result.endOffset)
      for (const [topic, next] of result.positions) positions.set(topic, next)
      histories.set(m.store, {
        fromCheckpoint: checkpoint[m.topic] !== undefined,
        progress: result.backfill && decodeProgress(result.backfill),
        hasData: result.records > 0,
      })
      metrics?.restoredRecords.inc({ topology: topology.name, store: m.store }, result.records)
      log.info('store restored', {
        task: context.taskId,
        store: m.store,
        records: result.records,
        from,
        ms: Date.now() - started,
      })
    }
  } finally {
    metrics?.restoreSeconds.observe({ topology: topology.name }, (Date.now() - started) / 1000)
  }
  return { ends, histories, positions }
}
