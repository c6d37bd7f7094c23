// What a processor sees of a store: typed keys and values over the changelogged bytes; and
// what a query sees: the same, read-only, over the committed bytes.

import { prefixEnd } from './raw-store.js'
import type { CommittedStore, ReadWriteStore } from './read-write-store.js'
import type { Serde } from './serde.js'

/** A value now, or a promise of it: `await` takes both. */
export type MaybePromise<T> = T | Promise<T>

export interface KeyValueStore<K, V> {
  /** At once (no promise) when the value is in memory: a pending write or a cached read. */
  get(key: K): MaybePromise<V | undefined>
  /** Reads these keys ahead, all at once (see ReadWriteStore.prefetch). */
  prefetch(keys: readonly K[]): Promise<void>
  put(key: K, value: V): void
  delete(key: K): void
  /** Entries with from <= key < to, in key-byte order. */
  range(from?: K, to?: K): AsyncIterable<[K, V]>
  /** Entries whose serialized key starts with the serialized prefix. */
  prefix(prefix: K): AsyncIterable<[K, V]>
}

/** A query's typed view: reads of committed state only. */
export interface ReadOnlyKeyValueStore<K, V> extends Pick<KeyValueStore<K, V>, 'range' | 'prefix'> {
  get(key: K): Promise<V | undefined>
}

export function typedStore<K, V>(
  store: Omit<ReadWriteStore, 'onRollback'>,
  keys: Serde<K>,
  values: Serde<V>,
): KeyValueStore<K, V> {
  const deserialize = (bytes: Buffer | null | undefined) =>
    bytes === undefined || bytes === null ? undefined : values.deserialize(bytes)
  return {
    ...typedReads(store, keys, values, (prefix) => store.prefix(prefix)),
    // No promise for what is in memory: most of a busy task's reads, each once per record.
    get: (key) => {
      const bytes = keys.serialize(key)
      const known = store.getKnown?.(bytes)
      return known === undefined ? store.get(bytes).then(deserialize) : deserialize(known)
    },
    prefetch: (wanted) => store.prefetch(wanted.map((key) => keys.serialize(key))),
    put: (key, value) => store.put(keys.serialize(key), values.serialize(value)),
    delete: (key) => store.delete(keys.serialize(key)),
  }
}

export function typedCommittedStore<K, V>(
  store: CommittedStore,
  keys: Serde<K>,
  values: Serde<V>,
): ReadOnlyKeyValueStore<K, V> {
  return typedReads(store, keys, values, (prefix) => {
    const end = prefixEnd(prefix)
    return store.range({ gte: prefix, ...(end ? { lt: end } : {}) })
  })
}

function typedReads<K, V>(
  store: CommittedStore,
  keys: Serde<K>,
  values: Serde<V>,
  scanPrefix: (prefix: Buffer) => AsyncIterable<[Buffer, Buffer]>,
): ReadOnlyKeyValueStore<K, V> {
  async function* typed(entries: AsyncIterable<[Buffer, Buffer]>): AsyncGenerator<[K, V]> {
    for await (const [k, v] of entries) yield [keys.deserialize(k), values.deserialize(v)]
  }
  return {
    async get(key) {
      const bytes = await store.get(keys.serialize(key))
      return bytes === undefined ? undefined : values.deserialize(bytes)
    },
    range: (from, to) =>
      typed(
        store.range({
          ...(from === undefined ? {} : { gte: keys.serialize(from) }),
          ...(to === undefined ? {} : { lt: keys.serialize(to) }),
        }),
      ),
    prefix: (prefix) => typed(scanPrefix(keys.serialize(prefix))),
  }
}
