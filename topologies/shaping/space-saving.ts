// The heavy hitters of a stream in bounded memory (Metwally et al.'s space-saving): at most
// `size` keys are counted; a new key takes over the smallest counter and inherits its count,
// so a key's estimate is never below its true count and every key with more than
// total/size of the traffic is held. Counts decay (halved every half-life) so the sketch
// follows the current load, not the load since start: estimates are decayed message counts.

export interface HeavyHitter {
  key: string
  count: number
}

export class SpaceSaving {
  private readonly counts = new Map<string, number>()
  private totalCount = 0

  constructor(private readonly size: number) {}

  add(key: string, weight = 1): void {
    this.totalCount += weight
    const current = this.counts.get(key)
    if (current !== undefined) {
      this.counts.set(key, current + weight)
      return
    }
    if (this.counts.size < this.size) {
      this.counts.set(key, weight)
      return
    }
    let smallest: string | undefined
    let least = Number.POSITIVE_INFINITY
    for (const [k, c] of this.counts) {
      if (c < least) {
        least = c
        smallest = k
      }
    }
    this.counts.delete(smallest as string)
    this.counts.set(key, least + weight)
  }

  /** An upper bound of the key's (decayed) count; untracked keys count at most the smallest. */
  estimate(key: string): number {
    const count = this.counts.get(key)
    if (count !== undefined) return count
    return this.counts.size < this.size ? 0 : this.minimum()
  }

  tracked(key: string): boolean {
    return this.counts.has(key)
  }

  /** The tracked keys, hottest first. */
  top(): HeavyHitter[] {
    return [...this.counts]
      .map(([key, count]) => ({ key, count }))
      .sort((a, b) => b.count - a.count)
  }

  /** Every key's count (and the total) times `factor`; counters that fade out are dropped. */
  decay(factor: number): void {
    this.totalCount *= factor
    for (const [k, c] of this.counts) {
      const next = c * factor
      if (next < 0.01) this.counts.delete(k)
      else this.counts.set(k, next)
    }
  }

  total(): number {
    return this.totalCount
  }

  /** Replaces the counts (a saved sketch brought back); at most `size` are kept. */
  restore(total: number, counts: readonly HeavyHitter[]): void {
    this.counts.clear()
    for (const { key, count } of counts.slice(0, this.size)) this.counts.set(key, count)
    this.totalCount = total
  }

  private minimum(): number {
    let least = Number.POSITIVE_INFINITY
    for (const c of this.counts.values()) least = Math.min(least, c)
    return least === Number.POSITIVE_INFINITY ? 0 : least
  }
}
