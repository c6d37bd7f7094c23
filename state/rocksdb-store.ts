// The raw layer: one RocksDB database per store and task, bytes in, bytes out, ordered.

import { mkdir, rm } from 'node:fs/promises'
import rocksdb from 'rocksdb'
import type { KeyRange, RawStore, WriteOp } from './raw-store.js'

type Db = ReturnType<typeof rocksdb>

function call<T>(
  fn: (cb: (err: Error | undefined, value?: T) => void) => void,
): Promise<T | undefined> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))))
}

export class RocksDbStore implements RawStore {
  private constructor(
    readonly location: string,
    private readonly db: Db,
  ) {}

  static async open(location: string): Promise<RocksDbStore> {
    await mkdir(location, { recursive: true })
    const db = rocksdb(location)
    await call<void>((cb) => db.open({ createIfMissing: true }, cb))
    return new RocksDbStore(location, db)
  }

  /** Deletes a closed store's files (a store that cannot be trusted is rebuilt from its changelog). */
  static async destroy(location: string): Promise<void> {
    await rm(location, { recursive: true, force: true })
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    // getMany, not get: the binding reports a missing key of get() as an error, and making
    // one (its stack trace) costs more than the read when most keys are new.
    return (await this.getMany([key]))[0]
  }

  /** One call into the binding for all the keys: one thread-pool job, one callback. */
  async getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    if (keys.length === 0) return []
    const values = await call<(Buffer | undefined)[]>((cb) =>
      this.db.getMany([...keys], { asBuffer: true }, cb),
    )
    return values ?? []
  }

  async write(ops: readonly WriteOp[]): Promise<void> {
    if (ops.length === 0) return
    const batch = ops.map((op) =>
      op.value === null
        ? { type: 'del' as const, key: op.key }
        : { type: 'put' as const, key: op.key, value: op.value },
    )
    await call<void>((cb) => this.db.batch(batch, cb))
  }

  /** Entries in key order within the range (or reverse order). */
  async *range(range: KeyRange = {}): AsyncGenerator<[Buffer, Buffer]> {
    const options: Record<string, unknown> = {
      keyAsBuffer: true,
      valueAsBuffer: true,
      reverse: range.reverse === true,
    }
    if (range.gte) options.gte = range.gte
    if (range.lt) options.lt = range.lt
    const it = this.db.iterator(options)
    try {
      for (;;) {
        const entry = await new Promise<[Buffer, Buffer] | undefined>((resolve, reject) =>
          it.next((err: Error | undefined, key: Buffer | undefined, value: Buffer | undefined) =>
            err ? reject(err) : resolve(key === undefined ? undefined : [key, value as Buffer]),
          ),
        )
        if (!entry) return
        yield entry
      }
    } finally {
      await call<void>((cb) => it.end(cb))
    }
  }

  async close(): Promise<void> {
    await call<void>((cb) => this.db.close(cb))
  }
}
