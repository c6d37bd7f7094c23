// What a processor sees of a store: typed keys and values over the changelogged bytes.

import type { ReadWriteStore } from './read-write-store.js'
import type { Serde } from './serde.js'

export interface KeyValueStore<K, V> {
  get(key: K): Promise<V | undefined>
  put(key: K, value: V): void
  delete(key: K): void
  /** Entries with from <= key < to, in key-byte order. */
  range(from?: K, to?: K): AsyncIterable<[K, V]>
  /** Entries whose serialized key starts with the serialized prefix. */
  prefix(prefix: K): AsyncIterable<[K, V]>
}

export function typedStore<K, V>(
  store: Omit<ReadWriteStore, 'onRollback'>,
  keys: Serde<K>,
  values: Serde<V>,
): KeyValueStore<K, V> {
  async function* typed(entries: AsyncIterable<[Buffer, Buffer]>): AsyncGenerator<[K, V]> {
    for await (const [k, v] of entries) yield [keys.deserialize(k), values.deserialize(v)]
  }
  return {
    async get(key) {
      const bytes = await store.get(keys.serialize(key))
      return bytes === undefined ? undefined : values.deserialize(bytes)
    },
    put: (key, value) => store.put(keys.serialize(key), values.serialize(value)),
    delete: (key) => store.delete(keys.serialize(key)),
    range: (from, to) =>
      typed(
        store.range({
          ...(from === undefined ? {} : { gte: keys.serialize(from) }),
          ...(to === undefined ? {} : { lt: keys.serialize(to) }),
        }),
      ),
    prefix: (p) => typed(store.prefix(keys.serialize(p))),
  }
}
