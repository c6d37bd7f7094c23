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

/**
 * Writes `n` at `at` as big-endian signed 64-bit, in two 32-bit halves, no BigInt (PTS and
 * times are written for every recipient of a message); exact for every safe integer.
 */
export function writeInt64BE(bytes: Buffer, n: number, at: number): void {
  const high = Math.floor(n / 2 ** 32)
  bytes.writeInt32BE(high, at)
  bytes.writeUInt32BE(n - high * 2 ** 32, at + 4)
}

/** Big-endian signed 64-bit: sorts numerically for non-negative values, as range scans need. */
export const int64Serde: Serde<number> = {
  serialize: (n) => {
    if (!Number.isSafeInteger(n)) throw new RangeError(`not a safe integer: ${n}`)
    const b = Buffer.allocUnsafe(8)
    writeInt64BE(b, n, 0)
    return b
  },
  deserialize: (b) => b.readInt32BE(0) * 2 ** 32 + b.readUInt32BE(4),
}
