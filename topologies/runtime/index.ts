// The runtime's public API: what a topology, its queries, the composition root and tests may
// use. Defining a topology (sources, sinks, stores, a processor over a ProcessorContext whose
// stores read and write but never commit, stores built from the log when added later),
// windows, global tables, dead letters, starting a
// topology and reading its committed state, and the in-memory test driver. Tasks, the runner,
// Kafka I/O, restore and the assignor are in internal/, which nothing outside the runtime
// imports (the layer rule in biome.json).

export {
  type CommittedStore,
  declareStore,
  type KeyValueStore,
  type ReadOnlyKeyValueStore,
  type ReadWriteStore,
  type StoreDeclaration,
  storeNames,
} from '../../state/index.js'
export { ChunkedWork, type ChunkStep } from './chunked-work.js'
export {
  type DeadLetterSink,
  decodeOrDeadLetter,
  kafkaDeadLetterSink,
} from './dead-letters.js'
export { GlobalTable } from './global-table.js'
export type {
  PeerStoreClient,
  ScanPage,
  StoreAddress,
} from './internal/remote-store.js'
export {
  DEFAULT_COMMIT_INTERVAL_MS,
  type RunnerOptions,
  type RunningTopology,
  startTopology,
  type TransactionScope,
} from './internal/runner.js'
export { defineModule, type TopologyModule } from './module.js'
export { partitionForKey } from './partitioner.js'
export { backfilled, openStore, queryStore, type StoreFold } from './stores.js'
export { type PipedRecord, TopologyTestDriver } from './test-driver.js'
export { changelogTopic, internalTopic } from './topic-names.js'
export {
  defineTopology,
  type InputRecord,
  type OutputRecord,
  type Processor,
  type ProcessorContext,
  type SinkDefinition,
  type SourceDefinition,
  type StoreBackfill,
  type TopologyDefinition,
  type TopologySpec,
} from './topology.js'
export {
  type WindowedAggregationOptions,
  type WindowResult,
  windowedAggregation,
} from './windowed-aggregation.js'
