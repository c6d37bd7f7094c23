export { changelogTopic } from './changelog.js'
export {
  type DeadLetterSink,
  deadLetterFor,
  decodeOrDeadLetter,
  kafkaDeadLetterSink,
} from './dead-letters.js'
export { GlobalTable } from './global-table.js'
export type {
  PeerStoreClient,
  ScanPage,
  StoreAddress,
} from './remote-store.js'
export {
  changelogTopics,
  type RunnerOptions,
  type RunningTopology,
  startTopology,
} from './runner.js'
export { type PipedRecord, TopologyTestDriver } from './test-driver.js'
export {
  defineTopology,
  type InputRecord,
  type OutputRecord,
  type Processor,
  type ProcessorContext,
  type TopologyDefinition,
} from './topology.js'
export {
  type WindowedAggregationOptions,
  type WindowResult,
  windowedAggregation,
} from './windowed-aggregation.js'
