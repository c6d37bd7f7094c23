// A store as its users declare it: its name and how its keys and values become bytes. The
// processor that writes a store and the queries that read it share one declaration, so
// neither encodes or decodes by hand and the two cannot drift apart.

import type { Serde } from './serde.js'

export interface StoreDeclaration<K, V> {
  /** Also the changelog topic's suffix: renaming a store loses its data. */
  readonly name: string
  readonly keys: Serde<K>
  readonly values: Serde<V>
}

export function declareStore<K, V>(
  name: string,
  keys: Serde<K>,
  values: Serde<V>,
): StoreDeclaration<K, V> {
  return Object.freeze({ name, keys, values })
}

/** The names of a set of declarations, for the code that still addresses stores by name. */
export function storeNames<T extends Readonly<Record<string, { readonly name: string }>>>(
  stores: T,
): { readonly [S in keyof T]: string } {
  return Object.freeze(
    Object.fromEntries(Object.entries(stores).map(([key, store]) => [key, store.name])),
  ) as { readonly [S in keyof T]: string }
}
