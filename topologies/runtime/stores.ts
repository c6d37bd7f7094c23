// Typed access to declared stores: a processor opens its task's store, a query reads the
// committed state of the task that owns a key (here or through the instance that owns it).
// Both go through the same declaration (name + serdes), so nobody decodes bytes by hand.

import {
  type KeyValueStore,
  type ReadOnlyKeyValueStore,
  type ReadWriteStore,
  type StoreDeclaration,
  typedCommittedStore,
  typedStore,
} from '../../state/index.js'
import type { RunningTopology } from './internal/runner.js'
import type { InputRecord, ProcessorContext, StoreBackfill } from './topology.js'

/** A store's writes for one input record, reading and writing that store only. */
export type StoreFold<K, V> = (
  record: InputRecord,
  store: KeyValueStore<K, V>,
) => void | Promise<void>

/**
 * A store the runtime builds from one of the topology's sources when it is new in a task that
 * has run (docs/replay.md, "Backfill"), for `defineTopology`'s stores. `fold` must be what
 * the processor writes the store with, for every record of `topic` it processes.
 */
export function backfilled<K, V>(
  store: StoreDeclaration<K, V>,
  from: { readonly topic: string; readonly fold: StoreFold<K, V> },
): { readonly name: string; readonly backfill: StoreBackfill } {
  const typed = new WeakMap<ReadWriteStore, KeyValueStore<K, V>>()
  const view = (raw: ReadWriteStore) => {
    let known = typed.get(raw)
    if (!known) {
      known = typedStore(raw, store.keys, store.values)
      typed.set(raw, known)
    }
    return known
  }
  return Object.freeze({
    name: store.name,
    backfill: Object.freeze({
      topic: from.topic,
      fold: (record: InputRecord, raw: ReadWriteStore) => from.fold(record, view(raw)),
    }),
  })
}

/** The declared store of this processor's task, typed. */
export function openStore<K, V>(
  context: Pick<ProcessorContext, 'store'>,
  store: StoreDeclaration<K, V>,
): KeyValueStore<K, V> {
  return typedStore(context.store(store.name), store.keys, store.values)
}

/** The committed state of the declared store in the task that owns `partitionKey`, typed. */
export function queryStore<K, V>(
  topology: Pick<RunningTopology, 'committedStoreForKey'>,
  store: StoreDeclaration<K, V>,
  partitionKey: string,
): ReadOnlyKeyValueStore<K, V> {
  return typedCommittedStore(
    topology.committedStoreForKey(partitionKey, store.name),
    store.keys,
    store.values,
  )
}
