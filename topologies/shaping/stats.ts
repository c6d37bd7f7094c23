// What shaping reports, summed over this process's receiver tasks; ops/metrics.ts reads it at
// each scrape (imflow_shaping_*). In memory: a retried transaction may count a decision twice.

import type { Priority, ThrottleReason } from '../../schemas/types.generated.js'

interface LaneView {
  queued: number
  oldestAt: number | undefined
  capacity: number
}

/** A task whose lane was not reported for this long has moved away or closed. */
const STALE_MS = 5_000

export interface ShapingSnapshot {
  accepted: Record<Priority, number>
  throttled: Partial<Record<ThrottleReason, number>>
  /** LOW messages delivered from the lane. */
  drained: number
  /** LOW messages delivered because their deadline was near, capacity or not. */
  drainedForDeadline: number
  queued: number
  /** Age of the oldest queued LOW message (ms); 0 when none waits. */
  oldestAgeMs: number
  /** Capacity in force, summed over this process's tasks (messages/s). */
  capacity: number
}

export class ShapingStats {
  private readonly accepted: Record<Priority, number> = { HIGH: 0, LOW: 0 }
  private readonly throttled: Partial<Record<ThrottleReason, number>> = {}
  private drained = 0
  private drainedForDeadline = 0
  private readonly lanes = new Map<string, LaneView & { reportedAt: number }>()

  admitted(priority: Priority): void {
    this.accepted[priority]++
  }

  refused(reason: ThrottleReason): void {
    this.throttled[reason] = (this.throttled[reason] ?? 0) + 1
  }

  delivered(n: number, forDeadline: number): void {
    this.drained += n
    this.drainedForDeadline += forDeadline
  }

  /** A task's lane as of `now` (each drain reports it). */
  lane(task: string, view: LaneView, now: number): void {
    this.lanes.set(task, { ...view, reportedAt: now })
  }

  snapshot(now: number): ShapingSnapshot {
    let queued = 0
    let oldest = now
    let capacity = 0
    for (const [task, lane] of this.lanes) {
      if (now - lane.reportedAt > STALE_MS) {
        this.lanes.delete(task)
        continue
      }
      queued += lane.queued
      capacity += lane.capacity
      if (lane.oldestAt !== undefined) oldest = Math.min(oldest, lane.oldestAt)
    }
    return {
      accepted: { ...this.accepted },
      throttled: { ...this.throttled },
      drained: this.drained,
      drainedForDeadline: this.drainedForDeadline,
      queued,
      oldestAgeMs: Math.max(0, now - oldest),
      capacity,
    }
  }
}
