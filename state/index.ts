export { ChangeloggedStore } from './changelogged-store.js'
export {
  type Checkpoint,
  deleteCheckpoint,
  readCheckpoint,
  type TaskCheckpoint,
  writeCheckpoint,
} from './checkpoint.js'
export {
  type KeyValueStore,
  type MaybePromise,
  type ReadOnlyKeyValueStore,
  typedCommittedStore,
  typedStore,
} from './key-value-store.js'
export { MemoryStore } from './memory-store.js'
export { newestFirst } from './newest-first.js'
export {
  type KeyRange,
  keyAfter,
  prefixEnd,
  type RawStore,
  type WriteOp,
} from './raw-store.js'
export { ReadCache } from './read-cache.js'
export type { CommittedStore, ReadWriteStore } from './read-write-store.js'
export { RocksDbStore } from './rocksdb-store.js'
export {
  bufferSerde,
  int64Serde,
  jsonSerde,
  type Serde,
  stringSerde,
  writeInt64BE,
} from './serde.js'
export { declareStore, type StoreDeclaration, storeNames } from './store-declaration.js'
export { type Window, WindowStore, windowsFor } from './window-store.js'
