// How keys and values become bytes for stores and topics. Plain functions, no classes.

export interface Serde<T> {
  serialize(value: T): Buffer
  deserialize(bytes: Buffer): T
}

export const bufferSerde: Serde<Buffer> = { serialize: (b) => b, deserialize: (b) => b }

export const stringSerde: Serde<string> = {
  serialize: (s) => Buffer.from(s, 'utf8'),
  deserialize: (b) => b.toString('utf8'),
}

export function jsonSerde<T>(): Serde<T> {
  return {
    serialize: (v) => Buffer.from(JSON.stringify(v), 'utf8'),
    deserialize: (b) => JSON.parse(b.toString('utf8')) as T,
  }
}

/** Big-endian signed 64-bit: sorts numerically for non-negative values, as range scans need. */
export const int64Serde: Serde<number> = {
  serialize: (n) => {
    const b = Buffer.alloc(8)
    b.writeBigInt64BE(BigInt(n))
    return b
  },
  deserialize: (b) => Number(b.readBigInt64BE()),
}
