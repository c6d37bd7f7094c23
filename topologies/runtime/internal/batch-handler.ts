// The consumer's eachBatch: one fetched batch of one partition, handed to the partition's
// task, which processes it in slices (transactions) with heartbeats between them while the
// partition is paused. A rebalance under way commits what is done and hands the partition
// over; a failure closes the task without a checkpoint and starts the consumer again.

import type { EachBatchPayload } from 'kafkajs'
import type { Logger } from '../../../ops/log.js'
import type { TaskMetrics } from '../../../ops/metrics.js'
import { type Task, TaskClosedError, TaskFencedError } from './task.js'
import type { TaskSet } from './task-set.js'

/** Heartbeat answers meaning the group went on without this member's current view of it. */
const GROUP_MOVED_ON =
  /REBALANCE_IN_PROGRESS|rebalanc|UNKNOWN_MEMBER_ID|not aware of this member|ILLEGAL_GENERATION|generation/i

export function batchHandler(
  topology: string,
  tasks: TaskSet,
  log: Logger,
  metrics?: TaskMetrics,
  /** A task failed after its batch was handed over (the 'fail' policy stops the topology). */
  onFailure: (err: Error) => void = () => {},
): (payload: EachBatchPayload) => Promise<void> {
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
    // kafkajs fetches again only when every batch of a fetch is done: one slow task (a big
    // group's fan-out, a flood) would hold up every other partition's next records. So the
    // batch is handed over and its partition paused; kafkajs goes on fetching the others,
    // and this one again, from the last offset resolved, once the task is through.
    const resume = pause()
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
          // Asked per record, so not isStale() (a seek asked for the partition; kafkajs
          // stringifies a key per call): the runtime never seeks a task's consumer.
          shouldContinue: () => isRunning() && !rebalancing,
          committed: resolveOffset,
        },
        batch.lastOffset(),
      )
      .then(resume, async (err) => {
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
        onFailure(err as Error)
      })
      .catch((err) => log.error('a failed task did not close', { partition, error: String(err) }))
  }
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
