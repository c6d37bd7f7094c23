// The changelog layer: writes made while a transaction is open stay in memory (and are read
// back from there); they become changelog records in the same Kafka transaction as the
// outputs and offsets, and only after the commit succeeded do they reach RocksDB (readers of
// committed state see them from the commit on). An aborted transaction leaves the store as
// it was.
//
// The writes not yet sent are the record cache (Kafka Streams' caching layer): repeated
// updates of a key merge into one changelog record, until the task sends them — at the
// commit, or earlier when they outgrow the cache (IMFLOW_CACHE_MAX_BYTES).

import { ImflowError } from '../ops/errors.js'
import { inRange, type KeyRange, prefixEnd, type RawStore, type WriteOp } from './raw-store.js'
import { ReadCache } from './read-cache.js'
import type { CommittedStore, ReadWriteStore } from './read-write-store.js'

/** At most this many keys read ahead per prefetch: well within the read cache's capacity. */
const PREFETCH_MAX_KEYS = 20_000
/**
 * Keys per call into RocksDB. A slice's reads are several calls side by side (the binding's
 * thread pool), not one key at a time past the first call's: the sync topology's slices at
 * 500 messages/s wanted 5,000-7,000 PTS-index keys, and two thirds were read one by one.
 */
const PREFETCH_CHUNK_KEYS = 2_000

/** A changelog record's framing besides key and value: the key's tag byte and the record's varints. */
const CHANGELOG_RECORD_OVERHEAD = 33

export interface ChangeloggedStoreOptions {
  /** The largest changelog record Kafka takes; a larger write is refused when it is made. */
  maxRecordBytes?: number
}

export class ChangeloggedStore implements ReadWriteStore {
  /** Latest pending write per key (keys as binary strings, which order like the bytes). */
  private readonly pending = new Map<string, WriteOp>()
  /** Pending writes not yet sent to the changelog: the record cache's dirty entries. */
  private readonly unsent = new Map<string, WriteOp>()
  /** Their size as changelog records, kept as they come. */
  private unsentSize = 0
  /** Committed values only: what RocksDB holds. */
  private readonly cache = new ReadCache()
  /**
   * The committed transaction's writes on their way to RocksDB: committed reads see them from
   * the moment Kafka committed, so an API read right after a receipt finds what it confirmed.
   */
  private readonly landing = new Map<string, WriteOp>()
  /** The last commit's write to RocksDB. */
  private writing: Promise<void> = Promise.resolve()
  private readonly rollbackListeners: (() => void)[] = []

  constructor(
    readonly name: string,
    private readonly raw: RawStore,
    private readonly options: ChangeloggedStoreOptions = {},
  ) {}

  /** The key's value if it is in memory (null: known to have none), else undefined. */
  getKnown(key: Buffer): Buffer | null | undefined {
    const id = key.toString('latin1')
    const op = this.pending.get(id)
    if (op) return op.value
    return this.cache.get(id)
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    const known = this.getKnown(key)
    if (known !== undefined) return known ?? undefined
    const value = await this.raw.get(key)
    this.cache.set(key.toString('latin1'), value ?? null)
    return value
  }

  async prefetch(keys: readonly Buffer[]): Promise<void> {
    const wanted = new Map<string, Buffer>()
    for (const key of keys) {
      const id = key.toString('latin1')
      if (!this.pending.has(id) && !this.cache.has(id)) wanted.set(id, key)
    }
    const ids = [...wanted.keys()].slice(0, PREFETCH_MAX_KEYS)
    const chunks: string[][] = []
    for (let i = 0; i < ids.length; i += PREFETCH_CHUNK_KEYS)
      chunks.push(ids.slice(i, i + PREFETCH_CHUNK_KEYS))
    const values = (
      await Promise.all(
        chunks.map((c) => this.raw.getMany(c.map((id) => wanted.get(id) as Buffer))),
      )
    ).flat()
    // A key written or read meanwhile keeps what that write or read put there.
    ids.forEach((id, i) => {
      if (!this.pending.has(id) && !this.cache.has(id)) this.cache.set(id, values[i] ?? null)
    })
  }

  put(key: Buffer, value: Buffer): void {
    this.write({ key, value })
  }

  delete(key: Buffer): void {
    this.write({ key, value: null })
  }

  private write(op: WriteOp): void {
    const size = CHANGELOG_RECORD_OVERHEAD + op.key.length + (op.value?.length ?? 0)
    const max = this.options.maxRecordBytes
    if (max !== undefined && size > max) {
      // Its changelog record would make the broker refuse the whole transaction, on every retry.
      throw new ImflowError(
        'IMF_ERR_RECORD_TOO_LARGE',
        `a write to store ${this.name} of ${size} bytes is larger than a changelog record may be (${max})`,
      )
    }
    const id = op.key.toString('latin1')
    const previous = this.unsent.get(id)
    if (previous)
      this.unsentSize -=
        CHANGELOG_RECORD_OVERHEAD + previous.key.length + (previous.value?.length ?? 0)
    this.pending.set(id, op)
    this.unsent.set(id, op)
    this.unsentSize += size
  }

  /** The changelog records not yet sent (the cache's dirty entries), in bytes. */
  pendingBytes(): number {
    return this.unsentSize
  }

  /** The writes not yet sent to the changelog, once: the caller sends them now. */
  takeUnsent(): WriteOp[] {
    const ops = [...this.unsent.values()]
    this.unsent.clear()
    this.unsentSize = 0
    return ops
  }

  /**
   * Committed state only, for readers outside the task (the API's queries): what RocksDB
   * holds, without the open transaction's writes. Safe while the task runs.
   */
  readonly committed: CommittedStore = {
    get: async (key) => {
      const op = this.landing.get(key.toString('latin1'))
      if (op) return op.value ?? undefined
      return this.raw.get(key)
    },
    range: (range) =>
      this.landing.size === 0
        ? this.raw.range(range)
        : overlaid(this.raw.range(range), [...this.landing.values()], range ?? {}),
  }

  /** Entries in key order, pending writes over stored ones. */
  async *range(range: KeyRange = {}): AsyncGenerator<[Buffer, Buffer]> {
    if (range.reverse)
      throw new ImflowError(
        'IMF_ERR_INTERNAL',
        'a task reads its stores in key order; committed reads may reverse',
      )
    yield* overlaid(this.committed.range(range), [...this.pending.values()], range)
  }

  prefix(prefix: Buffer): AsyncGenerator<[Buffer, Buffer]> {
    const lt = prefixEnd(prefix)
    return this.range(lt ? { gte: prefix, lt } : { gte: prefix })
  }

  /** All writes of the open transaction: what RocksDB gets at the commit. */
  pendingWrites(): WriteOp[] {
    return [...this.pending.values()]
  }

  /**
   * After the Kafka transaction committed: the writes are the committed state at once (cache
   * and landing) and go to RocksDB behind the previous commit's. Resolves when that previous
   * write is in RocksDB (or rejects with its failure): the task processes its next transaction
   * while this one's writes land, one write in flight at most.
   */
  commit(): Promise<void> {
    const ops = this.pendingWrites()
    for (const [id, op] of this.pending) {
      this.cache.set(id, op.value)
      this.landing.set(id, op)
    }
    this.pending.clear()
    this.unsent.clear()
    this.unsentSize = 0
    const previous = this.writing
    // After a failed write none follows: RocksDB would miss writes between (the task restores).
    this.writing = previous
      .then(() => this.raw.write(ops))
      .finally(() => {
        // A later commit of the same key landing meanwhile keeps its own entry.
        for (const op of ops) {
          const id = op.key.toString('latin1')
          if (this.landing.get(id) === op) this.landing.delete(id)
        }
      })
    this.writing.catch(() => {}) // surfaced by the next commit() or landed()
    return previous
  }

  /** Resolves when every committed write is in RocksDB (before a checkpoint or a close). */
  landed(): Promise<void> {
    return this.writing
  }

  /** After an abort: forget the writes. */
  rollback(): void {
    this.pending.clear()
    this.unsent.clear()
    this.unsentSize = 0
    for (const listener of this.rollbackListeners) listener()
  }

  /** For layers above that cache what they wrote: forget it when the writes are forgotten. */
  onRollback(listener: () => void): void {
    this.rollbackListeners.push(listener)
  }

  /** Restoring: records from the changelog go straight to RocksDB. */
  restore(ops: readonly WriteOp[]): Promise<void> {
    this.cache.clear()
    return this.raw.write(ops)
  }
}

/**
 * `stored` entries with `writes` laid over them (a write replaces the stored value of its key;
 * a delete hides it), in the range's order.
 */
async function* overlaid(
  stored: AsyncIterable<[Buffer, Buffer]>,
  writes: readonly WriteOp[],
  range: KeyRange,
): AsyncGenerator<[Buffer, Buffer]> {
  const sign = range.reverse ? -1 : 1
  const order = (a: Buffer, b: Buffer) => sign * Buffer.compare(a, b)
  const overlay = writes.filter((op) => inRange(op.key, range)).sort((a, b) => order(a.key, b.key))
  let i = 0
  for await (const [key, value] of stored) {
    for (; i < overlay.length && order((overlay[i] as WriteOp).key, key) < 0; i++) {
      const op = overlay[i] as WriteOp
      if (op.value) yield [op.key, op.value]
    }
    const same = overlay[i]
    if (same?.key.equals(key)) {
      i++
      if (same.value) yield [same.key, same.value]
    } else {
      yield [key, value]
    }
  }
  for (; i < overlay.length; i++) {
    const op = overlay[i] as WriteOp
    if (op.value) yield [op.key, op.value]
  }
}
