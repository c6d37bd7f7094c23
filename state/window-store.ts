// A windowed store: values per (window start, key), ordered by window start so the windows
// that close as stream time advances are one range scan away. Also keeps small named
// numbers (the aggregation's stream time) that must survive a restore with the windows.
//   data key: 0x00 | window start (8 bytes, big-endian) | key bytes
//   meta key: 0x01 | name

import type { ReadWriteStore } from './read-write-store.js'
import type { Serde } from './serde.js'

export interface Window {
  /** Inclusive, ms. */
  readonly start: number
  /** Exclusive, ms. */
  readonly end: number
}

/** The windows of size `sizeMs`, starting every `advanceMs`, that contain `timestamp`. */
export function windowsFor(timestamp: number, sizeMs: number, advanceMs = sizeMs): Window[] {
  const windows: Window[] = []
  const lastStart = timestamp - (((timestamp % advanceMs) + advanceMs) % advanceMs)
  for (let start = lastStart; start > timestamp - sizeMs; start -= advanceMs) {
    if (start >= 0) windows.unshift({ start, end: start + sizeMs })
  }
  return windows
}

const DATA = 0x00
const META = 0x01

function dataKey(start: number, key: Buffer): Buffer {
  const out = Buffer.alloc(9 + key.length)
  out[0] = DATA
  out.writeBigUInt64BE(BigInt(start), 1)
  key.copy(out, 9)
  return out
}

export class WindowStore<K, V> {
  private readonly metaCache = new Map<string, number | undefined>()

  constructor(
    private readonly store: ReadWriteStore,
    private readonly keys: Serde<K>,
    private readonly values: Serde<V>,
  ) {
    // A cached meta value may be an aborted transaction's write.
    store.onRollback(() => this.metaCache.clear())
  }

  async get(start: number, key: K): Promise<V | undefined> {
    const bytes = await this.store.get(dataKey(start, this.keys.serialize(key)))
    return bytes === undefined ? undefined : this.values.deserialize(bytes)
  }

  put(start: number, key: K, value: V): void {
    this.store.put(dataKey(start, this.keys.serialize(key)), this.values.serialize(value))
  }

  delete(start: number, key: K): void {
    this.store.delete(dataKey(start, this.keys.serialize(key)))
  }

  /** Entries of windows that start before `startBefore`, oldest window first. */
  async *startingBefore(startBefore: number): AsyncGenerator<{ start: number; key: K; value: V }> {
    const lt = Buffer.alloc(9)
    lt[0] = DATA
    lt.writeBigUInt64BE(BigInt(Math.max(0, startBefore)), 1)
    for await (const [k, v] of this.store.range({ gte: Buffer.from([DATA]), lt })) {
      yield {
        start: Number(k.readBigUInt64BE(1)),
        key: this.keys.deserialize(k.subarray(9)),
        value: this.values.deserialize(v),
      }
    }
  }

  async getMeta(name: string): Promise<number | undefined> {
    if (this.metaCache.has(name)) return this.metaCache.get(name)
    const bytes = await this.store.get(Buffer.concat([Buffer.from([META]), Buffer.from(name)]))
    const value = bytes === undefined ? undefined : Number(bytes.readBigInt64BE())
    this.metaCache.set(name, value)
    return value
  }

  putMeta(name: string, value: number): void {
    const bytes = Buffer.alloc(8)
    bytes.writeBigInt64BE(BigInt(value))
    this.store.put(Buffer.concat([Buffer.from([META]), Buffer.from(name)]), bytes)
    this.metaCache.set(name, value)
  }
}
