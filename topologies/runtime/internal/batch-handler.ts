// The consumer's eachBatch: one fetched batch of one partition, handed to the partition's
// task, which processes it in slices (transactions) with heartbeats between them while the
// partition is paused. A rebalance under way commits what is done and hands the partition
// over; a failure closes the task without a checkpoint and starts the consumer again.
//
// Fetching ahead: kafkajs' position moves past a batch as it is handed over, and the partition
// stays in the fetches while its task works, paused only while the task holds more than
// BUFFERED_RECORDS of it (Kafka Streams' poll loop: it goes on polling while its tasks work and
// commit, and pauses a partition whose buffer is full). A busy task's next records are then
// there when its commit returns, and a record arriving meanwhile is fetched at once, not after
// the transaction and the fetch round that follows it (a long poll of the other partitions).
// kafkajs' position is then ahead of what the task committed: should the task lose what it
// holds (it fails or closes, or leaves a batch part way), the partition is sought back to the
// task's last commit before anything else of it is processed.

import type { EachBatchPayload } from 'kafkajs'
import type { Logger } from '../../../ops/log.js'
import type { TaskMetrics } from '../../../ops/metrics.js'
import { type Task, TaskClosedError, TaskFencedError } from './task.js'
import type { TaskSet } from './task-set.js'

/** A partition whose task holds more records than this waits for them before it is fetched again. */
const BUFFERED_RECORDS = 1_000

/** What the handler asks of the group member (group-member.ts). */
export interface BatchHandlerMember {
  /** A task failed after its batch was handed over (the 'fail' policy stops the topology). */
  taskFailed(err: Error): void
  /** Where the consumer fetches a topic-partition from next. */
  seek(topic: string, partition: number, offset: number): void
}

/** Heartbeat answers meaning the group went on without this member's current view of it. */
const GROUP_MOVED_ON =
  /REBALANCE_IN_PROGRESS|rebalanc|UNKNOWN_MEMBER_ID|not aware of this member|ILLEGAL_GENERATION|generation/i

export function batchHandler(
  topology: string,
  tasks: TaskSet,
  log: Logger,
  /** The group member whose consumer delivers the batches (made after this handler). */
  member: () => BatchHandlerMember,
  options: {
    metrics?: TaskMetrics | undefined
    /**
     * Off: a partition is fetched again only once its task is through with the batch. Default:
     * on with a producer per task; off with one transaction per thread, where it is not proven
     * yet (runtime-exactly-once counted records twice once with it, cause not found).
     */
    fetchAhead?: boolean | undefined
    transactionScope?: 'task' | 'thread' | undefined
  } = {},
): (payload: EachBatchPayload) => Promise<void> {
  const { metrics } = options
  const fetchAhead = options.fetchAhead ?? options.transactionScope !== 'thread'
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
    if (!task) return
    const { topic } = batch
    const rewind = () => member().seek(topic, partition, task.resumeFrom(topic))
    // kafkajs fetches again only when every batch of a fetch is done: one slow task (a big
    // group's fan-out, a flood) would hold up every other partition's next records. So the
    // batch is handed over and the handler returns; kafkajs goes on fetching the others, and
    // this one too while its task holds little of it (fetching ahead, above), else once the
    // task is through with this batch. Without fetching ahead, paused until then.
    if (fetchAhead) resolveOffset(batch.lastOffset())
    const paused = !fetchAhead || task.backlog() + batch.messages.length > BUFFERED_RECORDS
    const resume = paused ? pause() : () => {}
    task
      .processBatch(
        batch.topic,
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
          shouldContinue: () => isRunning() && !isStale() && !rebalancing,
          // Fetching ahead, kafkajs' position is past the batch already.
          committed: fetchAhead ? () => {} : resolveOffset,
        },
        batch.lastOffset(),
        fetchedFrom(batch),
      )
      .then(
        (complete) => {
          // Left part way (stopping, rebalancing, or fetched past a gap): kafkajs' position
          // may be past what the task took.
          if (fetchAhead && !complete) rewind()
          resume()
        },
        async (err) => {
          // Before anything is awaited: no fetch may start past what the task lost.
          if (fetchAhead) rewind()
          // Closed under it (reopened after a failure, revoked, stopping): nothing to undo;
          // resumed, kafkajs fetches the rest again for the partition's next task.
          if (err instanceof TaskClosedError) return resume()
          // A batch that failed was resolved no further than its last commit: resumed, kafkajs
          // fetches it again from there, and the task, closed without a checkpoint, opens again
          // restored from its changelogs and the group's committed offsets (so a commit whose
          // outcome was unknown is not redone). Fenced: another instance owns the task now, and
          // the group tells this consumer so; the task only closes. Never a new consumer from
          // here: kafkajs may be restarting this one after the same broker trouble, and two
          // would split the partitions with a zombie.
          if (err instanceof TaskFencedError) {
            await tasks.close(partition, false)
            log.warn(err.message)
          } else await tasks.reopen(partition)
          resume()
          member().taskFailed(err as Error)
        },
      )
      .catch((err) => log.error('a failed task did not close', { partition, error: String(err) }))
  }
}

/**
 * The offset the batch was fetched from (kafkajs' position then; kafkajs 2.2.4 keeps it on the
 * batch, untyped); without it, its first record's.
 */
function fetchedFrom(batch: EachBatchPayload['batch']): number {
  const from = (batch as { fetchedOffset?: string }).fetchedOffset
  return Number(from ?? batch.firstOffset() ?? -1)
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
