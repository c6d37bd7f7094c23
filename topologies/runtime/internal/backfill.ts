// Builds a task's new stores from the log before the task processes anything (docs/replay.md,
// "Backfill"): for each store with a backfill, backfill-plan.ts says whether and from where;
// its source partition is read read_committed from there up to the group's committed position,
// each record folded into the store (backfill-fold.ts), in bounded transactions of the task's
// own producer: the store's changelog writes and the progress record together, exactly once.
// A crash leaves the last committed progress, which the next open resumes from.

import { randomBytes } from 'node:crypto'
import type { Kafka } from 'kafkajs'
import { ImflowError } from '../../../ops/errors.js'
import type { Logger } from '../../../ops/log.js'
import type { TaskMetrics } from '../../../ops/metrics.js'
import { retry } from '../../../ops/retry.js'
import type { ChangeloggedStore } from '../../../state/index.js'
import type { DeadLetterEncoder } from '../dead-letters.js'
import type { StoreBackfill, TopologyDefinition } from '../topology.js'
import { commitChunk } from './backfill-commit.js'
import { BackfillFold } from './backfill-fold.js'
import {
  type BackfillProgress,
  fromHistory,
  type InputPositions,
  type ReadRange,
  readRange,
  type StoreHistory,
} from './backfill-plan.js'
import type { EndOffsets, TaskProducer } from './kafka-io.js'
import { PartitionReader } from './partition-reader.js'
import { isRebuild } from './rebuild-plan.js'
import {
  DEFAULT_SLICE_LIMITS,
  type SliceLimits,
  sliceFull,
  YIELD_EVERY_MS,
  yieldToEventLoop,
} from './slice-bounds.js'
import { rebuildStores } from './store-rebuild.js'

/** A progress line this often while a backfill runs. */
const PROGRESS_EVERY_MS = 5_000

export interface BackfillContext {
  readonly kafka: Kafka
  readonly appId: string
  readonly groupId: string
  readonly topology: TopologyDefinition
  readonly partition: number
  readonly partitions?: number | undefined
  readonly log: Logger
  readonly metrics?: TaskMetrics | undefined
  readonly sliceLimits?: SliceLimits | undefined
  /** Aborted when the task closes before it opened: the backfill stops between records. */
  readonly signal?: AbortSignal | undefined
  readonly taskId: string
  readonly producer: TaskProducer
  readonly stores: ReadonlyMap<string, ChangeloggedStore>
  /** What each store's restore found. */
  readonly histories: ReadonlyMap<string, StoreHistory>
  /** The task's state folder root and dead letters: a shadow run (store-rebuild.ts) needs them. */
  readonly stateDir: string
  readonly deadLetters?: DeadLetterEncoder | undefined
  /** Where a transaction's changelog records ended, for the checkpoint. */
  ended(ends: EndOffsets): void
}

/**
 * Backfills every store that needs it, one after the other: those declared with a fold, then
 * those marked for a rebuild by a shadow run of the task (rebuild-plan.ts).
 */
export async function backfillStores(context: BackfillContext): Promise<void> {
  for (const [name, backfill] of Object.entries(context.topology.backfill ?? {})) {
    const history = context.histories.get(name)
    if (history && !isRebuild(history.progress))
      await backfillStore(context, name, backfill, history)
  }
  await rebuildStores(context)
}

async function backfillStore(
  context: BackfillContext,
  name: string,
  backfill: StoreBackfill,
  history: StoreHistory,
): Promise<void> {
  const answer = fromHistory(history)
  if (answer.kind === 'built') return
  const log = { task: context.taskId, store: name, topic: backfill.topic }
  const store = context.stores.get(name) as ChangeloggedStore
  if (answer.kind === 'existing') {
    // Recorded, so that no later open asks again (its data may be gone by compaction then).
    await commitChunk(context, name, store, {
      topic: backfill.topic,
      next: 0,
      target: 0,
      done: true,
    })
    context.log.info('store has data from before its backfill was declared: kept as it is', log)
    return
  }
  if (answer.kind === 'resume' && answer.progress.topic !== backfill.topic)
    throw new ImflowError(
      'IMF_ERR_TOPOLOGY',
      `store ${name} of ${context.taskId} was half built from ${answer.progress.topic}, and is now declared built from ${backfill.topic}: finish it with the declaration it began with, or replay --into a new app id`,
    )
  const range = readRange(answer, await inputPositions(context, backfill.topic))
  if (range.cut)
    context.log.warn('backfill target is past the end of its source partition: cut there', {
      ...log,
      target: range.target,
    })
  if (range.from < range.target) {
    context.log.info(
      answer.kind === 'resume'
        ? 'resuming an interrupted store backfill'
        : 'backfilling a new store from the retained log',
      { ...log, from: range.from, to: range.target },
    )
    await readAndFold(context, name, backfill, store, range)
  } else {
    const { target } = range
    await commitChunk(context, name, store, {
      topic: backfill.topic,
      next: target,
      target,
      done: true,
    })
  }
}

/** The group's committed position for the task's partition of `topic`, and what it holds. */
async function inputPositions(context: BackfillContext, topic: string): Promise<InputPositions> {
  const admin = context.kafka.admin()
  await admin.connect()
  try {
    const [offsets, groups] = await retry(() =>
      Promise.all([
        admin.fetchTopicOffsets(topic),
        admin.fetchOffsets({ groupId: context.groupId, topics: [topic] }),
      ]),
    )
    const here = offsets.find((o) => o.partition === context.partition)
    const committed = groups[0]?.partitions.find((p) => p.partition === context.partition)
    return {
      committed: committed && Number(committed.offset) >= 0 ? Number(committed.offset) : undefined,
      low: Number(here?.low ?? 0),
      high: Number(here?.high ?? 0),
    }
  } finally {
    await admin.disconnect()
  }
}

async function readAndFold(
  context: BackfillContext,
  name: string,
  backfill: StoreBackfill,
  store: ChangeloggedStore,
  range: ReadRange,
): Promise<void> {
  const { topic } = backfill
  const { partition, log, signal } = context
  const limits = context.sliceLimits ?? DEFAULT_SLICE_LIMITS
  const fold = new BackfillFold(context.topology, backfill, store, partition, context.partitions)
  const started = performance.now()
  let chunk = { started, records: 0 }
  let next = range.from
  let reported = started
  let counted = 0
  const commit = async (done: boolean) => {
    const progress: BackfillProgress = { topic, next, target: range.target, done }
    await commitChunk(context, name, store, progress)
    const labels = { topology: context.topology.name, store: name }
    context.metrics?.backfilledRecords.inc(labels, fold.counts.folded - counted)
    counted = fold.counts.folded
  }
  const reader = new PartitionReader(
    context.kafka,
    [topic],
    `${context.groupId}-backfill-${name}-${partition}-${randomBytes(4).toString('hex')}`,
    log,
  )
  await reader.start()
  try {
    await reader.read(
      topic,
      partition,
      range.from,
      async ({ messages, lastOffset }) => {
        let yielded = performance.now()
        for (const message of messages) {
          if (Number(message.offset) >= range.target) break
          signal?.throwIfAborted()
          await fold.apply(message)
          next = Number(message.offset) + 1
          chunk.records++
          const now = performance.now()
          if (sliceFull(limits, chunk.records, store.pendingBytes(), chunk.started, now)) {
            await commit(false)
            chunk = { started: performance.now(), records: 0 }
          }
          if (now - yielded >= YIELD_EVERY_MS) {
            await yieldToEventLoop()
            yielded = performance.now()
          }
        }
        const done =
          lastOffset >= range.target - 1 || messages.some((m) => Number(m.offset) >= range.target)
        if (done) {
          next = range.target
          await commit(true)
        }
        if (done || performance.now() - reported >= PROGRESS_EVERY_MS) {
          reported = performance.now()
          const seconds = (reported - started) / 1000
          log.info(done ? 'store backfilled' : 'store backfill progress', {
            task: context.taskId,
            store: name,
            offset: next,
            of: range.target,
            percent: Math.floor((100 * (next - range.from)) / (range.target - range.from)),
            ...fold.counts,
            perSecond: Math.round(fold.counts.folded / Math.max(seconds, 0.001)),
            seconds: Math.round(seconds * 10) / 10,
          })
        }
        return done
      },
      signal,
    )
  } finally {
    await reader.stop().catch(() => {})
  }
}
