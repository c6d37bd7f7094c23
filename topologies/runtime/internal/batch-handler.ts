// The consumer's eachBatch: one fetched batch of one partition, handed to the partition's
// task, which processes it in slices (transactions) with heartbeats between them. Meanwhile
// the consumer reads the partition on, up to a bound (fetch-ahead.ts), or not at all. A
// rebalance under way commits what is done and hands the partition over; a failure closes
// the task without a checkpoint and reads the partition again from the task's position.

import type { EachBatchPayload } from 'kafkajs'
import type { Logger } from '../../../ops/log.js'
import type { TaskMetrics } from '../../../ops/metrics.js'
import type { FetchAhead } from './fetch-ahead.js'
import { type Task, TaskClosedError, TaskFencedError } from './task.js'
import type { TaskSet } from './task-set.js'

/** Heartbeat answers meaning the group went on without this member's current view of it. */
const GROUP_MOVED_ON =
  /REBALANCE_IN_PROGRESS|rebalanc|UNKNOWN_MEMBER_ID|not aware of this member|ILLEGAL_GENERATION|generation/i

export interface BatchHandlerOptions {
  topology: string
  tasks: TaskSet
  log: Logger
  metrics?: TaskMetrics | undefined
  /** How far partitions are fetched ahead of their tasks (fetch-ahead.ts). */
  ahead: FetchAhead
  /** Where the partition's next fetch starts (the consumer's seek). */
  seek(topic: string, partition: number, offset: number): void
  /** A task failed after its batch was handed over (the 'fail' policy stops the topology). */
  onFailure(err: Error): void
}

export function batchHandler(
  options: BatchHandlerOptions,
): (payload: EachBatchPayload) => Promise<void> {
  const { topology, tasks, log, metrics, ahead, seek, onFailure } = options
  const fetchingAhead = ahead.maxBytes > 0
  return async ({ batch, resolveOffset, heartbeat, isRunning, isStale, pause }) => {
    const { partition } = batch
    if (!tasks.isAssigned(partition)) return
    metrics?.lag.set({ topology, partition: String(partition) }, Number(batch.offsetLag()))
    // A rebalance under way: commit what is done and hand the partition over quickly,
    // instead of retrying into the next generation (no storm of rejoins).
    let rebalancing = false
    const movedOn = (err: unknown) => {
      if (GROUP_MOVED_ON.test(String((err as Error)?.message ?? err))) rebalancing = true
    }
    // Usually opened (and restored) since the assignment; the group keeps hearing from us
    // while a long restore or backfill finishes. Stopping or rebalancing meanwhile, the batch
    // is left (nothing resolved: kafkajs fetches it again) and the open goes on, or is
    // aborted when the task closes.
    const task = await untilOpen(
      tasks.open(partition),
      () => heartbeat().catch(movedOn),
      () => isRunning() && !isStale() && !rebalancing,
    )
    // Fetched before a rewind (below) asked for the partition again: kafkajs reads it anew.
    if (!task || isStale()) return
    // kafkajs fetches again only when every batch of a fetch is done: one slow task (a big
    // group's fan-out, a flood) would hold up every other partition's next records. So the
    // batch is handed over and kafkajs goes on fetching the other partitions. This one:
    // - paused until the task is through (no fetching ahead): each commit resolves its records,
    //   and kafkajs reads what the task did not process again from the last one resolved;
    // - fetching ahead: the batch is taken as read at once, kafkajs fetches on as far as
    //   FetchAhead lets it, and what the task does not process it rewinds to its position.
    if (fetchingAhead) resolveOffset(batch.lastOffset())
    const labels = { topology, partition: String(partition) }
    const held = ahead.hold(batch, pause, recordsBehind(batch))
    metrics?.fetchedAhead.inc(labels, held.bytes)
    const release = () => {
      held.release()
      metrics?.fetchedAhead.dec(labels, held.bytes)
    }
    task
      .processBatch(
        batch.topic,
        // Not in kafkajs' types; on every Batch it builds (kafkajs is pinned at 2.2.4).
        Number((batch as unknown as { fetchedOffset: string }).fetchedOffset),
        batch.messages,
        {
          heartbeat: async () => {
            try {
              await heartbeat()
            } catch (err) {
              // A heartbeat that fails otherwise (a coordinator still loading after a broker
              // restart) must not abort the transaction: kafkajs' fetch loop deals with the
              // group, and a commit that cannot go through fails by itself.
              // One that says the group moved on (a rebalance, this member or its generation
              // gone): commit what is done and hand the partition over.
              movedOn(err)
            }
          },
          // Asked per record, so not isStale() (kafkajs stringifies a key per call): a rewind
          // seeks only once the task gave up the partition's batches.
          shouldContinue: () => isRunning() && !rebalancing,
          committed: (offset) => {
            if (!fetchingAhead) resolveOffset(offset)
          },
          // Not for a partition that moved away: its next owner starts at the group's commit.
          rewind: (offset) => {
            if (!fetchingAhead || !tasks.isAssigned(partition)) return false
            seek(batch.topic, partition, offset)
            return true
          },
        },
        batch.lastOffset(),
      )
      .then(release, async (err) => {
        release()
        // Closed under it (reopened after a failure, revoked, stopping): nothing to undo; it
        // was rewound, and kafkajs fetches it again for the partition's next task.
        if (err instanceof TaskClosedError) return
        // A batch that failed was rewound to the task's last commit: kafkajs fetches it again
        // from there, and the task, closed without a checkpoint, opens again restored from
        // its changelogs and the group's committed offsets (so a commit whose outcome was
        // unknown is not redone). Fenced: another instance owns the task now, and the group
        // tells this consumer so; the task only closes. Never a new consumer from here:
        // kafkajs may be restarting this one after the same broker trouble, and two would
        // split the partitions with a zombie.
        if (err instanceof TaskFencedError) {
          await tasks.close(partition, false)
          log.warn(err.message)
        } else await tasks.reopen(partition)
        onFailure(err as Error)
      })
      .catch((err) => log.error('a failed task did not close', { partition, error: String(err) }))
  }
}

/**
 * Whether the partition had records past this batch when it was fetched. Not told for a
 * batch that ends in a transaction: the high watermark then counts its commit marker and
 * records of open transactions a read_committed fetch does not return yet.
 */
function recordsBehind(batch: EachBatchPayload['batch']): boolean {
  const last = batch.messages.at(-1) as { batchContext?: { inTransaction?: boolean } } | undefined
  if (!last || last.batchContext?.inTransaction) return false
  return Number(batch.highWatermark) > Number(batch.lastOffset()) + 1
}

/**
 * The task once open; undefined if `going` turns false first (checked every second) or the
 * open was aborted.
 */
async function untilOpen(
  opening: Promise<Task>,
  beat: () => Promise<unknown>,
  going: () => boolean,
): Promise<Task | undefined> {
  let timer: NodeJS.Timeout | undefined
  const left = new Promise<undefined>((resolve) => {
    timer = setInterval(() => {
      if (!going()) resolve(undefined)
      else void beat()
    }, 1_000)
  })
  try {
    return await Promise.race([opening, left])
  } catch (err) {
    // Closed before it opened (revoked or stopping): nothing to process here.
    if ((err as Error)?.name === 'AbortError') return undefined
    throw err
  } finally {
    clearInterval(timer)
  }
}
