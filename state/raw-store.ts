// The raw layer's contract: ordered bytes. RocksDB in production; a sorted in-memory map
// for the topology test driver.

export interface WriteOp {
  readonly key: Buffer
  /** null deletes the key. */
  readonly value: Buffer | null
}

export interface KeyRange {
  /** Inclusive lower bound. */
  readonly gte?: Buffer
  /** Exclusive upper bound. */
  readonly lt?: Buffer
  /** Newest (largest key) first. */
  readonly reverse?: boolean
}

export interface RawStore {
  get(key: Buffer): Promise<Buffer | undefined>
  /** Many keys in one read: each one's value, undefined where there is none. */
  getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]>
  write(ops: readonly WriteOp[]): Promise<void>
  range(range?: KeyRange): AsyncGenerator<[Buffer, Buffer]>
  close(): Promise<void>
}

/** The smallest key greater than every key starting with `prefix` (for prefix scans). */
export function prefixEnd(prefix: Buffer): Buffer | undefined {
  const end = Buffer.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1
      return end.subarray(0, i + 1)
    }
  }
  return undefined
}

/** The smallest key greater than `key` (a scan that goes on after the last key it took). */
export function keyAfter(key: Buffer): Buffer {
  return Buffer.concat([key, Buffer.from([0])])
}

export function inRange(key: Buffer, range: KeyRange): boolean {
  return (
    (!range.gte || Buffer.compare(key, range.gte) >= 0) &&
    (!range.lt || Buffer.compare(key, range.lt) < 0)
  )
}
