// The time shaping decides by: the records' own time (when they were written to im.ingest),
// capped by the clock so a producer whose clock runs ahead cannot push it into the future,
// and never going back (a late or reordered record is decided at the time already reached),
// as the receiver's msgIds are. So a backlog processed late and fast is judged by the rates it
// was sent at, and a replay of the same input decides what the live app decided.

export class StreamTime {
  private at: number | undefined

  constructor(private readonly clock: () => number) {}

  /** Moves the time to a record's timestamp (capped by the clock, never back); the time now. */
  observe(timestamp: number): number {
    const capped = Math.min(timestamp, this.clock())
    this.at = this.at === undefined ? capped : Math.max(this.at, capped)
    return this.at
  }

  /**
   * Sets the time saved with the last commit: after a restart, or after a rolled-back
   * transaction whose records are read again and must be decided as they were the first time.
   */
  reset(at: number | undefined): void {
    this.at = at
  }

  /** The time reached; undefined before the first record. */
  current(): number | undefined {
    return this.at
  }
}
