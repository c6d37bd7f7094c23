// A runner's tasks, one per assigned partition: opened (and restored) once and shared by all
// the partition's source topics, closed when the partition is revoked or the runner stops. A
// revoked task may still be closing when its partition comes back: the open waits for it
// (RocksDB's lock refuses a second one).

import type { Logger } from '../../../ops/log.js'
import type { TaskMetrics } from '../../../ops/metrics.js'
import type { Task } from './task.js'

export class TaskSet {
  private readonly tasks = new Map<number, Promise<Task>>()
  /** Tasks opened and restored: the ones queries may read. */
  private readonly opened = new Map<number, Task>()
  private readonly closing = new Map<number, Promise<void>>()
  private assigned = new Set<number>()

  constructor(
    private readonly topology: string,
    private readonly openOne: (partition: number) => Promise<Task>,
    private readonly log: Logger,
    private readonly metrics?: TaskMetrics,
  ) {}

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
    for (const partition of partitions) {
      this.open(partition).catch((err) =>
        this.log.warn('task did not open; it is opened again with its next records', {
          topology: this.topology,
          partition,
          error: String(err),
        }),
      )
    }
  }

  /** The partition's task, opened (and restored) once and shared by all its source topics. */
  open(partition: number): Promise<Task> {
    const known = this.tasks.get(partition)
    if (known) return known
    // Registered before the first await: a batch of another source topic for the same
    // partition, running concurrently, must find this task, not open a second one.
    const previous = this.closing.get(partition)
    const opening = (async () => {
      await previous
      return this.openOne(partition)
    })()
    this.tasks.set(partition, opening)
    opening.then(
      (task) => {
        this.opened.set(partition, task)
        this.metrics?.openTasks.inc({ topology: this.topology })
      },
      () => {
        if (this.tasks.get(partition) === opening) this.tasks.delete(partition)
      },
    )
    return opening
  }

  /** Closes the partition's task; `clean`: with a checkpoint, else it restores when opened again. */
  close(partition: number, clean: boolean): Promise<void> {
    const opening = this.tasks.get(partition)
    this.tasks.delete(partition)
    const done = (async () => {
      const task = await opening?.catch(() => undefined)
      if (!task) return
      if (this.opened.get(partition) === task) this.opened.delete(partition)
      await task.close(clean)
      this.metrics?.openTasks.dec({ topology: this.topology })
    })()
    this.closing.set(partition, done)
    void done.finally(() => {
      if (this.closing.get(partition) === done) this.closing.delete(partition)
    })
    return done
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.tasks.keys()].map((p) => this.close(p, true)))
  }
}
