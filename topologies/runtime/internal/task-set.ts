// A runner's tasks, one per assigned partition: opened (and restored) once and shared by all
// the partition's source topics, closed when the partition is revoked or the runner stops. A
// revoked task may still be closing when its partition comes back: the open waits for it
// (RocksDB's lock refuses a second one).

import type { Logger } from '../../../ops/log.js'
import type { TaskMetrics } from '../../../ops/metrics.js'
import type { Task } from './task.js'
import { UnopenedTasks } from './unopened-tasks.js'

/** A task that failed to open is tried again after this long, doubling up to the max. */
const REOPEN_DELAY_MS = { first: 200, max: 4_000 }

export class TaskSet {
  private readonly tasks = new Map<number, Promise<Task>>()
  /** Tasks opened and restored: the ones queries may read. */
  private readonly opened = new Map<number, Task>()
  private readonly closing = new Map<number, Promise<void>>()
  /** Aborts an open under way (a long backfill) when its task closes first. */
  private readonly aborts = new Map<number, AbortController>()
  private assigned = new Set<number>()
  private stopping = false
  /** Assigned partitions whose task is not open yet, for health. */
  private readonly unopened: UnopenedTasks

  constructor(
    private readonly topology: string,
    private readonly openOne: (partition: number, signal: AbortSignal) => Promise<Task>,
    private readonly log: Logger,
    private readonly metrics?: TaskMetrics,
    /** An assigned task not open after this long makes the topology unhealthy. */
    openGraceMs = 30_000,
  ) {
    this.unopened = new UnopenedTasks(openGraceMs)
  }

  /** Why the tasks are not healthy (an assigned one not open past the grace), if they are not. */
  problem(): string | undefined {
    return this.unopened.problem()
  }

  /** The partitions of the group's last assignment to this member. */
  get assignment(): ReadonlySet<number> {
    return this.assigned
  }

  isAssigned(partition: number): boolean {
    return this.assigned.has(partition)
  }

  /** The open (and restored) task of the partition, if any. */
  openTask(partition: number): Task | undefined {
    return this.opened.get(partition)
  }

  /**
   * A new assignment: tasks no longer assigned close; the assigned ones open now, not on their
   * first record, so a partition that gets no record for a while still serves its state to
   * queries.
   */
  assign(partitions: ReadonlySet<number>): void {
    for (const partition of this.tasks.keys()) {
      if (!partitions.has(partition)) void this.close(partition, true)
    }
    this.assigned = new Set(partitions)
    this.unopened.assigned(this.assigned, (p) => this.opened.has(p))
    for (const partition of partitions) this.keepOpening(partition, REOPEN_DELAY_MS.first)
  }

  /** Opens an assigned task, and again with backoff while it fails (a quiet partition gets no batch to retry it). */
  private keepOpening(partition: number, delay: number): void {
    this.open(partition).catch((err) => {
      if ((err as Error)?.name === 'AbortError') return
      this.log.warn('task did not open; trying again', {
        topology: this.topology,
        partition,
        error: String(err),
        inMs: delay,
      })
      setTimeout(() => {
        if (!this.stopping && this.assigned.has(partition) && !this.tasks.has(partition))
          this.keepOpening(partition, Math.min(REOPEN_DELAY_MS.max, delay * 2))
      }, delay).unref()
    })
  }

  /** The partition's task, opened (and restored) once and shared by all its source topics. */
  open(partition: number): Promise<Task> {
    const known = this.tasks.get(partition)
    if (known) return known
    // Stopping (closeAll): a batch fetched meanwhile is left, as for a task closed under it.
    if (this.stopping)
      return Promise.reject(new DOMException('the runner is stopping', 'AbortError'))
    // Registered before the first await: a batch of another source topic for the same
    // partition, running concurrently, must find this task, not open a second one.
    const previous = this.closing.get(partition)
    const abort = new AbortController()
    this.aborts.set(partition, abort)
    const opening = (async () => {
      await previous
      return this.openOne(partition, abort.signal)
    })()
    this.tasks.set(partition, opening)
    opening.then(
      (task) => {
        this.opened.set(partition, task)
        this.unopened.opened(partition)
        this.metrics?.openTasks.inc({ topology: this.topology })
      },
      () => {
        if (this.tasks.get(partition) === opening) this.tasks.delete(partition)
      },
    )
    void opening
      .finally(() => {
        if (this.aborts.get(partition) === abort) this.aborts.delete(partition)
      })
      .catch(() => {})
    return opening
  }

  /** Closes the partition's task; `clean`: with a checkpoint, else it restores when opened again. */
  close(partition: number, clean: boolean): Promise<void> {
    const opening = this.tasks.get(partition)
    // A close under way (two failed batches of one task reopen it twice) finishes first: the
    // partition's next open waits for the last close, so it must cover the earlier ones.
    const previous = this.closing.get(partition)
    this.tasks.delete(partition)
    this.aborts.get(partition)?.abort()
    const done = (async () => {
      await previous
      const task = await opening?.catch(() => undefined)
      if (!task) return
      if (this.opened.get(partition) === task) this.opened.delete(partition)
      this.unopened.closed(partition, !this.stopping && this.assigned.has(partition))
      await task.close(clean)
      this.metrics?.openTasks.dec({ topology: this.topology })
    })()
    this.closing.set(partition, done)
    void done.finally(() => {
      if (this.closing.get(partition) === done) this.closing.delete(partition)
    })
    return done
  }

  /**
   * A task that failed: closed without a checkpoint, and opened again (restored from its
   * changelogs) while its partition is assigned, so its state serves queries before the
   * partition's next record.
   */
  async reopen(partition: number): Promise<void> {
    await this.close(partition, false)
    if (!this.stopping && this.assigned.has(partition))
      this.keepOpening(partition, REOPEN_DELAY_MS.first)
  }

  async closeAll(): Promise<void> {
    this.stopping = true
    await Promise.all([...this.tasks.keys()].map((p) => this.close(p, true)))
  }
}
