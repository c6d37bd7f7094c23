export { changelogTopic } from './changelog.js'
export {
  type DeadLetterSink,
  deadLetterFor,
  decodeOrDeadLetter,
  kafkaDeadLetterSink,
} from './dead-letters.js'
export {
  changelogTopics,
  type RunnerOptions,
  type RunningTopology,
  startTopology,
} from './runner.js'
export {
  defineTopology,
  type InputRecord,
  type OutputRecord,
  type Processor,
  type ProcessorContext,
  type TopologyDefinition,
} from './topology.js'
