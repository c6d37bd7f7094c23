// Partitions assigned to this instance whose task is not open: restoring, or failing to open
// (a RocksDB lock still held, a full disk). The runner tries those again with backoff until
// they open or are revoked; past a grace period the topology reports itself unhealthy, so
// /readyz says what queries' NOT_READY alone would hide.

export class UnopenedTasks {
  private readonly since = new Map<number, number>()

  constructor(
    private readonly graceMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** A new assignment: partitions no longer assigned are forgotten, new unopened ones noted. */
  assigned(partitions: ReadonlySet<number>, isOpen: (partition: number) => boolean): void {
    for (const p of this.since.keys()) if (!partitions.has(p)) this.since.delete(p)
    for (const p of partitions)
      if (!isOpen(p) && !this.since.has(p)) this.since.set(p, this.clock())
  }

  opened(partition: number): void {
    this.since.delete(partition)
  }

  /** A task closed while its partition stays assigned (it failed): not open from now. */
  closed(partition: number, stillAssigned: boolean): void {
    if (stillAssigned && !this.since.has(partition)) this.since.set(partition, this.clock())
  }

  /** Why the topology is not healthy; undefined when every partition opened within the grace. */
  problem(): string | undefined {
    const now = this.clock()
    const late = [...this.since]
      .filter(([, at]) => now - at > this.graceMs)
      .sort(([a], [b]) => a - b)
    if (late.length === 0) return undefined
    const longest = Math.round((now - Math.min(...late.map(([, at]) => at))) / 1000)
    return `partitions ${late.map(([p]) => p).join(', ')} assigned but not open (restoring or failing to open) for up to ${longest} s`
  }
}
