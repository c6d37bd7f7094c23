// How far ahead of its deadline a LOW message must leave the lane. A drain runs between
// records and on a wall-clock tick, but never inside another transaction: on a busy task (a
// flood's, or any on a loaded machine) drains come seconds apart, and a message that falls
// due just after one waits for the next. So the margin is the larger of a fixed share of the
// deadline and twice the longest gap seen lately between drains (one gap to be reached, one
// for the transaction that hands it off), up to the whole deadline: a task whose drains come
// that far apart hands LOW off at the first drain after its acceptance (the deadline is the
// promise; waiting for spare capacity is not).

/** How often the lane is drained when nothing holds the task up. */
export const DRAIN_EVERY_MS = 100
/** Gaps are remembered for one to two of these windows. */
const WINDOW_MS = 30_000

/** The fixed part: a share of the deadline, at least two drains, at most 5 s. */
export function drainMargin(deadlineMs: number): number {
  return Math.min(5_000, Math.max(2 * DRAIN_EVERY_MS, deadlineMs * 0.2))
}

export class DrainPace {
  private last: number | undefined
  private windowStart = Number.NEGATIVE_INFINITY
  private current = 0
  private previous = 0

  /** A drain was asked for at `now` (wall clock), whether it ran or was too soon. */
  observe(now: number): void {
    if (this.last !== undefined && now > this.last) {
      if (now - this.windowStart >= WINDOW_MS) {
        // The window before the one that ended, if several went by with no drain: forgotten.
        this.previous = now - this.windowStart < 2 * WINDOW_MS ? this.current : 0
        this.current = 0
        this.windowStart = now
      }
      this.current = Math.max(this.current, now - this.last)
    } else if (this.last === undefined) this.windowStart = now
    this.last = Math.max(this.last ?? now, now)
  }

  /** The longest gap between drains in the last one to two windows (ms). */
  worstGap(): number {
    return Math.max(this.current, this.previous)
  }

  /** How long before its deadline a message is drained, capacity or not. */
  margin(deadlineMs: number): number {
    const adaptive = Math.min(deadlineMs, 2 * this.worstGap() + DRAIN_EVERY_MS)
    return Math.max(drainMargin(deadlineMs), adaptive)
  }
}
