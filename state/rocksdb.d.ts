// The part of the `rocksdb` (Level) binding imflow uses; the package ships no types.
declare module 'rocksdb' {
  type Callback<T = void> = (err: Error | undefined, value?: T) => void
  interface Iterator {
    next(cb: (err: Error | undefined, key?: Buffer, value?: Buffer) => void): void
    end(cb: Callback): void
  }
  interface RocksDb {
    open(options: { createIfMissing?: boolean }, cb: Callback): void
    close(cb: Callback): void
    get(key: Buffer, options: { asBuffer: boolean }, cb: Callback<Buffer>): void
    /** undefined for a key it does not hold. */
    getMany(
      keys: Buffer[],
      options: { asBuffer: boolean },
      cb: Callback<(Buffer | undefined)[]>,
    ): void
    batch(
      ops: ({ type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer })[],
      cb: Callback,
    ): void
    iterator(options: Record<string, unknown>): Iterator
  }
  function rocksdb(location: string): RocksDb
  export default rocksdb
}
