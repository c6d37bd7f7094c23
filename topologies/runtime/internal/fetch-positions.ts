// Where a task's source topics are read from, now that the runner fetches ahead: kafkajs'
// position moves past each batch as it is handed over (batch-handler.ts), so it runs ahead of
// what the task committed. While nothing is lost that is harmless; once a batch is left part
// way (stopping, rebalancing) the task must not take a later batch of the topic, which would
// skip the rest of it: the batches fetched after it are left too (an epoch per topic), the
// partition is sought back to resumeFrom(), and until a batch fetched from there (or before)
// arrives, one fetched from further on (before the seek took effect) is refused.

export class FetchPositions {
  /** Per topic, where it was first fetched from, while nothing of it is committed. */
  private readonly firstFetched = new Map<string, number>()
  private readonly epochs = new Map<string, number>()
  /** Per topic, where it must be read again from after a batch was left part way. */
  private readonly rewound = new Map<string, number>()

  /** `committedNext`: per topic, the offset after the task's last commit (kept by the task). */
  constructor(private readonly committedNext: ReadonlyMap<string, number>) {}

  /**
   * Where the topic is read again from when what the task holds of it is lost: after its last
   * commit, or where it was first fetched from before any.
   */
  resumeFrom(topic: string): number {
    return this.committedNext.get(topic) ?? this.firstFetched.get(topic) ?? 0
  }

  /** The topic's epoch: a batch handed over in an earlier one is not taken. */
  epoch(topic: string): number {
    return this.epochs.get(topic) ?? 0
  }

  /**
   * A batch fetched from `fetchedFrom` is handed over; false when it must be refused (fetched
   * from past where the topic must be read again: it would leave a gap).
   */
  handOver(topic: string, fetchedFrom: number | undefined): boolean {
    if (fetchedFrom === undefined) return true
    const from = this.rewound.get(topic)
    if (from !== undefined) {
      if (fetchedFrom > from) return false
      this.rewound.delete(topic)
    }
    if (!this.committedNext.has(topic) && !this.firstFetched.has(topic))
      this.firstFetched.set(topic, fetchedFrom)
    return true
  }

  /** A batch of `epoch` was left part way: those handed over after it are left too. */
  leftPartWay(topic: string, epoch: number): void {
    if (epoch !== this.epoch(topic)) return
    this.epochs.set(topic, epoch + 1)
    this.rewound.set(topic, this.resumeFrom(topic))
  }
}
