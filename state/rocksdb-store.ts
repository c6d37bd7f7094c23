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
    try {
      return await call<Buffer>((cb) => this.db.get(key, { asBuffer: true }, cb as never))
    } catch (err) {
      // The binding reports a missing key as an error: "NotFound: " (with notFound on some versions).
      if ((err as { notFound?: boolean }).notFound || /^NotFound/.test((err as Error).message))
        return undefined
      throw err
    }
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
