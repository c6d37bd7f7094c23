// The cache layer: recently read or committed values of a store, so a hot key costs one
// RocksDB read, not one per record. Safe because a task is its store's only writer.
// Least-recently-used eviction on a Map's insertion order, a slice at a time: a Map keeps the
// slots of deleted entries until it grows again, and its iterator walks over them, so taking
// the one oldest entry per insert made a full cache's every insert walk tens of thousands of
// dead slots (50,000 inserts into a full cache took seconds instead of 80 ms).

/** The share of the capacity evicted at once when the cache is full. */
const EVICT_SHARE = 0.1

export class ReadCache {
  private readonly entries = new Map<string, Buffer | null>()

  constructor(private readonly capacity = 50_000) {}

  /** undefined: not cached; null: cached as absent. */
  get(key: string): Buffer | null | undefined {
    const value = this.entries.get(key)
    if (value !== undefined) {
      this.entries.delete(key)
      this.entries.set(key, value)
    }
    return value
  }

  has(key: string): boolean {
    return this.entries.has(key)
  }

  set(key: string, value: Buffer | null): void {
    this.entries.delete(key)
    this.entries.set(key, value)
    if (this.entries.size > this.capacity) this.evict()
  }

  /** The oldest entries, a share of the capacity, in one walk. */
  private evict(): void {
    let n = Math.max(1, Math.ceil(this.capacity * EVICT_SHARE))
    for (const key of this.entries.keys()) {
      this.entries.delete(key)
      if (--n === 0) return
    }
  }

  clear(): void {
    this.entries.clear()
  }
}
