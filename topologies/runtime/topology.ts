// What a topology declares: its source topics, sinks, state stores and processor. The
// runtime runs one task per input partition (co-partitioned sources share it); a processor
// sees only this interface, never Kafka or RocksDB.

import { ImflowError } from '../../ops/errors.js'
import type { Logger } from '../../ops/log.js'
import type { ReadWriteStore } from '../../state/index.js'

export interface InputRecord<V = unknown> {
  readonly topic: string
  readonly partition: number
  readonly offset: string
  /** Event time: the record's timestamp (ms). */
  readonly timestamp: number
  readonly key: Buffer | null
  readonly value: V
  readonly headers: Record<string, Buffer | string | (Buffer | string)[] | undefined>
}

export interface OutputRecord {
  key: Buffer | string | null
  value: Buffer | null
  /** Defaults to the task's partition for co-partitioned sinks; set it to repartition. */
  partition?: number
  headers?: Record<string, Buffer | string>
}

export type PunctuationType = 'stream-time' | 'wall-clock'

export interface ProcessorContext {
  readonly taskId: string
  readonly partition: number
  /** The task's logger: its lines name the task. */
  readonly log: Logger
  /** A store declared by the topology, for this task. */
  store(name: string): ReadWriteStore
  /** Emits a record to a declared sink, in the same transaction as the input's offset. */
  send(sink: string, record: OutputRecord): void
  /** The largest record timestamp this task has seen (-Infinity before the first). */
  streamTime(): number
  /** Wall-clock time (ms): Date.now() on Kafka, the driver's clock in topology tests. */
  wallClock(): number
  /**
   * Calls `run` every intervalMs of stream time (as records arrive) or of wall-clock time
   * (also when no record arrives). What it writes commits like a record's writes.
   */
  schedule(
    intervalMs: number,
    type: PunctuationType,
    run: (timestamp: number) => void | Promise<void>,
  ): void
}

export interface Processor {
  process(record: InputRecord): void | Promise<void>
  /**
   * Called with the records about to be processed (decoded; some may still be refused):
   * reads ahead, all at once, the store keys they will need (ReadWriteStore.prefetch).
   */
  prefetch?(records: readonly InputRecord[]): Promise<void>
  /**
   * Called once per transaction, after its last record or punctuation and before its outputs
   * are taken: work done once for all the transaction's records rather than per record (the
   * sync topology pushes what it sequenced in the same transaction, not in a later one).
   */
  beforeCommit?(): void | Promise<void>
  close?(): void | Promise<void>
}

export interface SourceDefinition {
  topic: string
  /** Bytes -> value. Throwing a non-retriable error dead-letters the record. */
  decode?: (bytes: Buffer) => unknown | Promise<unknown>
  /**
   * Which partition owns a record: the one its key (read from the decoded value) hashes to
   * with murmur2, as the API and kafkajs write. A record a producer put on another partition
   * (librdkafka's CRC32 partitioner, or another key) is misplaced: `reroute` writes it, as it
   * came, to its owner partition of the same topic in the task's transaction, and processes it
   * there; `skip` ignores it here because another topology reading the topic re-routes it.
   */
  owner?: { key: (value: unknown) => string; misplaced: 'reroute' | 'skip' }
  /**
   * A record without a value (a tombstone) on a source that decodes is dead-lettered, since
   * an event was expected; `true`: it reaches the processor with a null value (a compacted
   * topic's delete that means something to this topology).
   */
  tombstones?: boolean
}

export interface SinkDefinition {
  topic: string
  /** `task`: the task's partition, unless a record names one; `key`: by its key (murmur2). */
  partitionBy?: 'task' | 'key'
  /**
   * The sink carries a table's changes (a count, a latest state): a reader needs only each
   * key's latest record. While the record cache is on (IMFLOW_CACHE_MAX_BYTES above 0), records
   * sent with the same key in one transaction merge and the latest goes at the commit, or
   * earlier, all at once, when they outgrow the cache, as Kafka Streams forwards a cached
   * KTable's updates. Records without a key always go.
   */
  latestPerKey?: boolean
}

/**
 * How a store added to a topology that has run is built from the log (docs/replay.md,
 * "Backfill"): before its task processes anything, the runtime folds the source's records
 * from the earliest retained offset up to the group's committed position into the store.
 */
export interface StoreBackfill {
  /** One of the topology's sources, so co-partitioned with the task. */
  readonly topic: string
  /**
   * The store's writes for one record, decoded as the processor gets it: the function the
   * processor writes the store with, so the two cannot differ. It sees this store only.
   */
  readonly fold: (record: InputRecord, store: ReadWriteStore) => void | Promise<void>
}

export interface TopologyDefinition {
  name: string
  sources: readonly SourceDefinition[]
  sinks?: Readonly<Record<string, SinkDefinition>>
  stores?: readonly string[]
  /** Stores built from one of the sources when they are new in a task that has run, by name. */
  backfill?: Readonly<Record<string, StoreBackfill>>
  /**
   * Topics this topology writes for another topology to read, keyed by another field
   * (repartitioning, e.g. conversation -> user). Created with the sources' partition count.
   */
  internalTopics?: readonly string[]
  processor: (context: ProcessorContext) => Processor
  /** On a processing error: dead-letter the record and go on, or stop the topology. */
  onProcessingError?: 'continue' | 'fail'
  /**
   * How long its transactions span unless the runner is told (IMFLOW_COMMIT_INTERVAL_MS): 0
   * for a topology a push waits on, each slice committed at once; without it, 100 ms
   * (DEFAULT_COMMIT_INTERVAL_MS, Kafka Streams' under exactly-once), fewer and larger commits.
   */
  commitIntervalMs?: number
}

/**
 * A topology as written: its stores by name, by declaration (`declareStore`), or with how
 * they are built from the log (`backfilled`).
 */
export interface TopologySpec extends Omit<TopologyDefinition, 'stores' | 'backfill'> {
  stores?: readonly (string | { readonly name: string; readonly backfill?: StoreBackfill })[]
}

export function defineTopology(spec: TopologySpec): TopologyDefinition {
  const backfill: Record<string, StoreBackfill> = {}
  for (const s of spec.stores ?? []) {
    if (typeof s === 'string' || !s.backfill) continue
    if (!spec.sources.some((source) => source.topic === s.backfill?.topic))
      throw new ImflowError(
        'IMF_ERR_TOPOLOGY',
        `topology ${spec.name}: store ${s.name} is built from ${s.backfill.topic}, which is not one of its sources`,
      )
    backfill[s.name] = s.backfill
  }
  const definition: TopologyDefinition = {
    ...spec,
    stores: (spec.stores ?? []).map((s) => (typeof s === 'string' ? s : s.name)),
    ...(Object.keys(backfill).length > 0 ? { backfill: Object.freeze(backfill) } : {}),
  }
  const names = new Set<string>()
  for (const s of definition.stores ?? []) {
    if (names.has(s))
      throw new ImflowError(
        'IMF_ERR_TOPOLOGY',
        `topology ${definition.name}: store ${s} is declared twice`,
      )
    names.add(s)
  }
  if (definition.sources.length === 0)
    throw new ImflowError('IMF_ERR_TOPOLOGY', `topology ${definition.name} has no source topic`)
  return Object.freeze({ ...definition })
}
