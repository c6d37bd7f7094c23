// In-memory timers of a sync task (pack delays, ack timeouts, notification windows): one
// deadline per user, taken when due. They are hints rebuilt from the stores after a restart
// or a rolled-back transaction; what they act on is always read from the stores.

export class Deadlines {
  private readonly at = new Map<string, number>()
  private earliest = Number.POSITIVE_INFINITY

  /** Sets the user's deadline, keeping an earlier one already set. */
  set(userId: string, time: number): void {
    const current = this.at.get(userId)
    if (current !== undefined && current <= time) return
    this.at.set(userId, time)
    if (time < this.earliest) this.earliest = time
  }

  delete(userId: string): void {
    this.at.delete(userId)
  }

  /** The users whose deadline has come, removed from the timers. */
  takeDue(now: number): string[] {
    if (now < this.earliest) return []
    const due: string[] = []
    this.earliest = Number.POSITIVE_INFINITY
    for (const [userId, time] of this.at) {
      if (time <= now) {
        due.push(userId)
        this.at.delete(userId)
      } else if (time < this.earliest) {
        this.earliest = time
      }
    }
    return due
  }

  clear(): void {
    this.at.clear()
    this.earliest = Number.POSITIVE_INFINITY
  }
}
