// Stretches of a task's source partitions that kafkajs read and filtered to nothing
// (transaction markers, aborted records). No eachBatch sees them, so the task's position has
// to be carried past them, or a partition ending in one stays one short of its end and every
// "caught up" check (committed >= high watermark) waits forever. A stretch is a fact of the
// log (read_committed, it holds nothing to process), so a position inside one, or at its
// start, may pass to its end; never across a gap between stretches, which holds records.

interface Stretch {
  readonly from: number
  readonly to: number
}

/** Kept per topic; beyond this many ahead of the position, the furthest are dropped. */
const MAX_STRETCHES = 1_000

export class FilteredStretches {
  private readonly byTopic = new Map<string, Stretch[]>()

  /** kafkajs filtered `topic` from `from` up to (not including) `to` to nothing. */
  add(topic: string, from: number, to: number): void {
    if (to <= from) return
    const stretches = this.byTopic.get(topic) ?? []
    stretches.push({ from, to })
    stretches.sort((a, b) => a.from - b.from)
    if (stretches.length > MAX_STRETCHES) stretches.length = MAX_STRETCHES
    this.byTopic.set(topic, stretches)
  }

  topics(): IterableIterator<string> {
    return this.byTopic.keys()
  }

  /** Where a position at `at` goes on to, past every stretch it stands in or at the start of. */
  passFrom(topic: string, at: number): number {
    let position = at
    for (const s of this.byTopic.get(topic) ?? []) {
      if (s.from > position) break
      if (s.to > position) position = s.to
    }
    return position
  }

  /** The position of `topic` is committed at `next`: the stretches behind it are done. */
  committed(topic: string, next: number): void {
    const stretches = this.byTopic.get(topic)
    if (!stretches) return
    const ahead = stretches.filter((s) => s.to > next)
    if (ahead.length === 0) this.byTopic.delete(topic)
    else this.byTopic.set(topic, ahead)
  }
}
