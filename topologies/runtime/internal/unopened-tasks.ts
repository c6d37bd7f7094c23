// Partitions assigned to this instance whose task is not open: restoring, or failing to open
// (a RocksDB lock still held, a full disk). The runner tries those again with backoff until
// they open or are revoked; past a grace period the topology reports itself unhealthy, so
// /readyz says what queries' NOT_READY alone would hide. Until the tasks of the first
// assignment have all opened there is no grace: a starting instance is not ready while it
// restores (Kafka Streams' REBALANCING before RUNNING), so nothing is sent its way that its
// stores cannot answer yet.

export class UnopenedTasks {
  private readonly since = new Map<number, number>()
  /** Every task of an assignment opened once: from then on an unopened one has the grace. */
  private started = false

  constructor(
    private readonly graceMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** A new assignment: partitions no longer assigned are forgotten, new unopened ones noted. */
  assigned(partitions: ReadonlySet<number>, isOpen: (partition: number) => boolean): void {
    for (const p of this.since.keys()) if (!partitions.has(p)) this.since.delete(p)
    for (const p of partitions)
      if (!isOpen(p) && !this.since.has(p)) this.since.set(p, this.clock())
    if (this.since.size === 0) this.started = true
  }

  opened(partition: number): void {
    this.since.delete(partition)
    if (this.since.size === 0) this.started = true
  }

  /** A task closed while its partition stays assigned (it failed): not open from now. */
  closed(partition: number, stillAssigned: boolean): void {
    if (stillAssigned && !this.since.has(partition)) this.since.set(partition, this.clock())
  }

  /** Why the topology is not healthy; undefined when every partition opened within the grace. */
  problem(): string | undefined {
    const now = this.clock()
    // Starting: every unopened one counts, graced or not.
    const late = [...this.since]
      .filter(([, at]) => !this.started || now - at > this.graceMs)
      .sort(([a], [b]) => a - b)
    if (late.length === 0) return undefined
    const longest = Math.round((now - Math.min(...late.map(([, at]) => at))) / 1000)
    return `${this.started ? '' : 'starting: '}partitions ${late.map(([p]) => p).join(', ')} assigned but not open (restoring or failing to open) for up to ${longest} s`
  }
}
