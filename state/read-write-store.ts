// The two views of a task's store that code outside the runtime gets. Processing reads (its
// own pending writes included), writes and scans; committing, rolling back and restoring
// belong to the runtime alone (ChangeloggedStore has them). Queries read committed state only.

import type { KeyRange, RawStore } from './raw-store.js'

/** What a processor may do with its store. */
export interface ReadWriteStore {
  get(key: Buffer): Promise<Buffer | undefined>
  /** The key's value if it is held in memory (null: known to have none), else undefined. */
  getKnown?(key: Buffer): Buffer | null | undefined
  /**
   * Reads the keys not held in memory all at once, so the gets that follow find them there:
   * each RocksDB read is a trip through libuv's thread pool, and a processor's gets, awaited
   * one by one, would wait for those trips in a row.
   */
  prefetch(keys: readonly Buffer[]): Promise<void>
  put(key: Buffer, value: Buffer): void
  delete(key: Buffer): void
  /** Entries in key order, pending writes over stored ones (never reversed). */
  range(range?: KeyRange): AsyncGenerator<[Buffer, Buffer]>
  /** Entries whose key starts with `prefix`, in key order. */
  prefix(prefix: Buffer): AsyncGenerator<[Buffer, Buffer]>
  /** For layers above that cache what they wrote: forget it when the writes are forgotten. */
  onRollback(listener: () => void): void
}

/** What a query may read: the committed state, without an open transaction's writes. */
export type CommittedStore = Pick<RawStore, 'get' | 'range'>
