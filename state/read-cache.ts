// The cache layer: recently read or committed values of a store, so a hot key costs one
// RocksDB read, not one per record. Safe because a task is its store's only writer.
// Least-recently-used eviction on a Map's insertion order.

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
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string
      this.entries.delete(oldest)
    }
  }

  clear(): void {
    this.entries.clear()
  }
}
