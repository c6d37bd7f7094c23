// What the LOW lane may drain: the capacity HIGH left, in real time. Draining is work done now
// (and LOW's deadline is a promise in real time), so this budget runs on the wall clock, apart
// from the event-time bucket HIGH is admitted by (overload.ts): every delivery, HIGH or LOW,
// spends it, and LOW drains only what is spare. Kept apart so that when and how much LOW was
// drained never changes a HIGH decision, which a replay must reproduce.

import { BURST_SECONDS } from './overload.js'

export class DeliveryBudget {
  /** Undefined until first brought up to a time: a new budget starts full. */
  private tokens: number | undefined
  private burst = 1
  private at = Number.NEGATIVE_INFINITY
  /** HIGH was refused for overload since the last drain: it wants more than the capacity. */
  private highWanting = false

  /** Refills at `capacity` messages/s of wall-clock time, up to half a second of it. */
  advance(now: number, capacity: number): void {
    this.burst = Math.max(1, capacity * BURST_SECONDS)
    if (this.tokens === undefined) this.tokens = this.burst
    else if (now > this.at)
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * capacity) / 1000)
    this.at = Math.max(this.at, now)
  }

  /** Deliveries spend it; the debt is bounded so one spike is not paid for for long. */
  spend(n: number): void {
    this.tokens = Math.max(-this.burst, (this.tokens ?? this.burst) - n)
  }

  /** HIGH gave way for lack of capacity: LOW gets none of it until HIGH stops asking. */
  refusedHigh(): void {
    this.highWanting = true
  }

  /** Tokens free for a LOW drain: what HIGH left (nothing while HIGH is being throttled). */
  spare(): number {
    const spare = this.highWanting ? 0 : Math.max(0, Math.floor(this.tokens ?? this.burst))
    this.highWanting = false
    return spare
  }
}
