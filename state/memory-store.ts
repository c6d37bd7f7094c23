// An in-memory raw store with RocksDB's ordering, for the topology test driver.

import { inRange, type KeyRange, type RawStore, type WriteOp } from './raw-store.js'

export class MemoryStore implements RawStore {
  private readonly entries = new Map<string, Buffer>()
  /** How many gets reached the store (tests count what the layers above keep in memory). */
  reads = 0

  async get(key: Buffer): Promise<Buffer | undefined> {
    this.reads++
    return this.entries.get(key.toString('latin1'))
  }

  async getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    this.reads += keys.length
    return keys.map((key) => this.entries.get(key.toString('latin1')))
  }

  async write(ops: readonly WriteOp[]): Promise<void> {
    for (const op of ops) {
      const id = op.key.toString('latin1')
      if (op.value === null) this.entries.delete(id)
      else this.entries.set(id, op.value)
    }
  }

  async *range(range: KeyRange = {}): AsyncGenerator<[Buffer, Buffer]> {
    const keys = [...this.entries.keys()]
      .map((k) => Buffer.from(k, 'latin1'))
      .filter((k) => inRange(k, range))
    keys.sort(Buffer.compare)
    if (range.reverse) keys.reverse()
    for (const key of keys) {
      const value = this.entries.get(key.toString('latin1'))
      if (value) yield [key, value]
    }
  }

  async close(): Promise<void> {}
}
