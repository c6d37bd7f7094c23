// Typed access to declared stores: a processor opens its task's store, a query reads the
// committed state of the task that owns a key (here or through the instance that owns it).
// Both go through the same declaration (name + serdes), so nobody decodes bytes by hand.

import {
  type KeyValueStore,
  type ReadOnlyKeyValueStore,
  type StoreDeclaration,
  typedCommittedStore,
  typedStore,
} from '../../state/index.js'
import type { RunningTopology } from './internal/runner.js'
import type { ProcessorContext } from './topology.js'

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
