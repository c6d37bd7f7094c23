// The Kafka-free heart of a task: runs records through the processor, keeps stream time and
// punctuators, and collects what one transaction must write (outputs, changelog records).
// The Kafka task (task.ts) and the in-memory test driver (../test-driver.ts) both drive it.

import { ImflowError, isImflowError } from '../../../ops/errors.js'
import type { Logger } from '../../../ops/log.js'
import type { TaskMetrics } from '../../../ops/metrics.js'
import type { ChangeloggedStore } from '../../../state/index.js'
import { changelogTopic, dataKey } from '../changelog.js'
import { type DeadLetterEncoder, deadLetterFor, type SourceRecord } from '../dead-letters.js'
import type {
  InputRecord,
  OutputRecord,
  Processor,
  ProcessorContext,
  PunctuationType,
  TopologyDefinition,
} from '../topology.js'
import { decodeSourceValue } from './decode-source.js'
import type { OutRecord } from './kafka-io.js'
import { LatestOutputs } from './latest-outputs.js'
import { type OncePerProducer, placement } from './misplaced.js'
import { maxRecordBytes, recordBytes } from './output-batches.js'

export interface ConsumedMessage {
  offset: string
  timestamp: string
  key: Buffer | null
  value: Buffer | null
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>
  /** kafkajs keeps the record batch's producer id here (-1: a producer without idempotence). */
  batchContext?: { producerId?: string }
}

export interface TaskCoreOptions {
  appId: string
  topology: TopologyDefinition
  partition: number
  stores: ReadonlyMap<string, ChangeloggedStore>
  deadLetters?: DeadLetterEncoder | undefined
  log: Logger
  metrics?: TaskMetrics | undefined
  /** Wall-clock time for punctuators (the test driver moves its own). */
  clock?: () => number
  /**
   * Bytes of unsent writes a store keeps before they go to the changelog (its record cache);
   * undefined: all go at the commit; 0: every record's writes go with its outputs.
   */
  cacheMaxBytes?: number | undefined
  /** The sources' partition count; with it, misplaced records are re-routed (misplaced.ts). */
  partitions?: number | undefined
  /** Shared by a topology's tasks: a misplacing producer is logged once, not once per task. */
  misplacedNotices?: OncePerProducer | undefined
}

interface Punctuator {
  type: PunctuationType
  intervalMs: number
  next: number | undefined
  run: (timestamp: number) => void | Promise<void>
}

export class TaskCore {
  readonly id: string
  private outputs: OutRecord[] = []
  /** The outputs' size on the wire, kept as they come: a slice's byte bound reads it per record. */
  private outputBytes = 0
  /** Outputs to `latestPerKey` sinks, merged per key until the commit while the cache is on. */
  private readonly latest = new LatestOutputs()
  /** Each store's changelog topic, by store name. */
  private readonly changelogs = new Map<string, string>()
  /**
   * The record being processed (its topic and message, not a record built for each): an
   * output too large to send is dead-lettered as its result.
   */
  private currentTopic: string | undefined
  private currentMessage: ConsumedMessage | undefined
  /** Each source's definition by topic: looked up per record. */
  private readonly definitions: ReadonlyMap<string, TopologyDefinition['sources'][number]>
  private streamTime = Number.NEGATIVE_INFINITY
  private readonly punctuators: Punctuator[] = []
  private readonly processor: Processor
  /** The stores as an array: walked per record (pendingBytes, evictFullCaches). */
  private readonly storeList: readonly ChangeloggedStore[]
  /** Values decoded ahead for a prefetch, taken by process(). */
  private readonly decodedAhead = new WeakMap<ConsumedMessage, unknown>()

  constructor(private readonly options: TaskCoreOptions) {
    const { topology, partition } = options
    this.id = `${topology.name}-${partition}`
    this.definitions = new Map(topology.sources.map((s) => [s.topic, s]))
    this.storeList = [...options.stores.values()]
    const context: ProcessorContext = {
      taskId: this.id,
      partition,
      log: options.log.child(this.id),
      store: (name) => {
        const store = options.stores.get(name)
        if (!store)
          throw new ImflowError(
            'IMF_ERR_TOPOLOGY',
            `topology ${topology.name} declares no store ${name}`,
          )
        return store
      },
      send: (sink, record) => this.emit(sink, record),
      streamTime: () => this.streamTime,
      wallClock: () => (options.clock ?? Date.now)(),
      schedule: (intervalMs, type, run) => {
        this.punctuators.push({
          type,
          intervalMs,
          run,
          next: type === 'wall-clock' ? (options.clock ?? Date.now)() + intervalMs : undefined,
        })
      },
    }
    this.processor = topology.processor(context)
  }

  private emit(sink: string, record: OutputRecord): void {
    const { topology, partition } = this.options
    const target = topology.sinks?.[sink]
    if (!target)
      throw new ImflowError(
        'IMF_ERR_TOPOLOGY',
        `topology ${topology.name} declares no sink ${sink}`,
      )
    // One shape for every output (no conditional spreads): this runs per record.
    const out: OutRecord = {
      topic: target.topic,
      key: typeof record.key === 'string' ? Buffer.from(record.key) : record.key,
      value: record.value,
      partition: record.partition ?? (target.partitionBy === 'task' ? partition : undefined),
      headers: record.headers,
    }
    const size = recordBytes(out)
    if (size > maxRecordBytes()) {
      // The broker would refuse it and, with it, the whole transaction, again on every retry.
      const err = new ImflowError(
        'IMF_ERR_RECORD_TOO_LARGE',
        `an output to ${target.topic} of ${size} bytes is larger than a record batch may be (${maxRecordBytes()})`,
      )
      const { currentTopic, currentMessage } = this
      const source = currentMessage
        ? this.source(currentTopic ?? '', currentMessage)
        : { topic: target.topic, partition, offset: '-1', key: null, value: null }
      this.deadLetter(source, err, currentMessage ? topology.name : 'punctuate')
      return
    }
    if (target.latestPerKey && this.options.cacheMaxBytes !== 0 && this.latest.keep(out, size)) {
      const max = this.options.cacheMaxBytes
      if (max !== undefined && this.latest.bytes() > max) this.takeLatest()
      return
    }
    this.push(out, size)
  }

  /** The merged outputs join the ones to send now. */
  private takeLatest(): void {
    for (const out of this.latest.take()) this.push(out)
  }

  private push(out: OutRecord, size = recordBytes(out)): void {
    this.outputs.push(out)
    this.outputBytes += size
  }

  /**
   * Lets the processor read ahead what the coming records need (its prefetch), with their
   * values decoded once for both; messages from..to (sliced only for a processor that reads
   * ahead). Only a hint: a record that fails here fails, as it should, when it is processed.
   */
  async prefetch(
    topic: string,
    messages: readonly ConsumedMessage[],
    from = 0,
    to = messages.length,
  ): Promise<void> {
    if (!this.processor.prefetch || from >= Math.min(to, messages.length)) return
    const inputs: InputRecord[] = []
    for (const message of messages.slice(from, to)) {
      try {
        const value = await this.decode(topic, message)
        this.decodedAhead.set(message, value)
        inputs.push(this.input(topic, message, value))
      } catch {
        // dead-lettered or retried by process()
      }
    }
    await this.processor.prefetch(inputs).catch(() => {})
  }

  private source(topic: string, message: ConsumedMessage): SourceRecord {
    return {
      topic,
      partition: this.options.partition,
      offset: message.offset,
      key: message.key,
      value: message.value,
      headers: message.headers ?? {},
    }
  }

  private input(topic: string, message: ConsumedMessage, value: unknown): InputRecord {
    // A literal, not a spread of source(): a fifth of a simple topology's own time went there.
    return {
      topic,
      partition: this.options.partition,
      offset: message.offset,
      timestamp: Number(message.timestamp),
      key: message.key,
      value,
      headers: message.headers ?? {},
    }
  }

  private decode(topic: string, message: ConsumedMessage): unknown {
    return decodeSourceValue(this.definitions.get(topic), message.value)
  }

  /**
   * Decodes and processes one record; a record that cannot be decoded or processed is
   * dead-lettered. Per record: a synchronous decoder, processor or punctuation is not awaited
   * (each await a microtask and a promise, a share of the event loop's time).
   */
  async process(topic: string, message: ConsumedMessage): Promise<void> {
    const { topology } = this.options
    const definition = this.definitions.get(topic)
    let value: unknown
    try {
      value = this.decodedAhead.has(message)
        ? this.decodedAhead.get(message)
        : decodeSourceValue(definition, message.value)
      if (value instanceof Promise) value = await value
    } catch (err) {
      if (isImflowError(err) && err.retriable) throw err
      this.deadLetter(this.source(topic, message), err, 'decode')
      return
    }
    this.decodedAhead.delete(message)
    const input = this.input(topic, message, value)
    const { timestamp } = input
    if (definition && this.misplaced(definition, input, message)) return
    if (timestamp > this.streamTime) this.streamTime = timestamp
    this.currentTopic = topic
    this.currentMessage = message
    try {
      const processed = this.processor.process(input)
      if (processed) await processed
    } catch (err) {
      if ((err as { retriable?: boolean }).retriable || topology.onProcessingError === 'fail')
        throw err
      this.deadLetter(this.source(topic, message), err, topology.name)
    } finally {
      this.currentMessage = undefined
    }
    if (this.punctuators.length > 0) await this.punctuate('stream-time', this.streamTime)
    this.evictFullCaches()
  }

  /**
   * True when the record belongs to another partition: re-routed there (or left to the
   * topology that re-routes its topic), so nothing of it is processed here. A record whose
   * owner key cannot be read is processed here, where the processor's checks answer it.
   */
  private misplaced(
    definition: TopologyDefinition['sources'][number],
    input: InputRecord,
    message: ConsumedMessage,
  ): boolean {
    const { topology, partitions, log, metrics } = this.options
    let where: ReturnType<typeof placement>
    try {
      where = placement(definition, input, message.value, partitions)
    } catch {
      return false
    }
    if (where.kind === 'here') return false
    if (where.kind === 'skip') return true
    if (recordBytes(where.copy) > maxRecordBytes()) {
      // Its header on top of a value near the limit: the broker would refuse the transaction.
      const err = new ImflowError(
        'IMF_ERR_RECORD_TOO_LARGE',
        `a record on partition ${input.partition} belongs to partition ${where.owner}, but re-routed it would be larger than a record batch may be (${maxRecordBytes()})`,
      )
      this.deadLetter({ ...input, value: message.value }, err, 'reroute')
      return true
    }
    this.push(where.copy)
    metrics?.rerouted.inc({ topology: topology.name, topic: input.topic })
    const producerId = message.batchContext?.producerId
    const notices = this.options.misplacedNotices
    if (!notices || notices.first(input.topic, producerId)) {
      log.warn(
        'a producer writes records to partitions that do not own their keys: re-routed (one extra hop); set its partitioner to murmur2 (librdkafka: partitioner=murmur2_random)',
        {
          topology: topology.name,
          topic: input.topic,
          partition: input.partition,
          owner: where.owner,
          offset: input.offset,
          producerId: producerId ?? 'unknown',
        },
      )
    }
    return true
  }

  /** A store whose cache outgrew its bytes sends its writes with the next outputs. */
  private evictFullCaches(): void {
    const max = this.options.cacheMaxBytes
    if (max === undefined) return
    for (let i = 0; i < this.storeList.length; i++) {
      const store = this.storeList[i] as ChangeloggedStore
      if (store.pendingBytes() > max) this.queueChangelog(store.name, store)
    }
  }

  private queueChangelog(name: string, store: ChangeloggedStore): void {
    const { appId, topology, partition } = this.options
    // Asked per record without a record cache: the name is built once per store.
    let topic = this.changelogs.get(name)
    if (topic === undefined) {
      topic = changelogTopic(appId, topology.name, name)
      this.changelogs.set(name, topic)
    }
    for (const op of store.takeUnsent())
      this.push({ topic, partition, key: dataKey(op.key), value: op.value })
  }

  /** Runs the punctuators of a type whose time has come; true when any ran. */
  async punctuate(type: PunctuationType, now: number): Promise<boolean> {
    let ran = false
    for (const p of this.punctuators) {
      if (p.type !== type || !Number.isFinite(now)) continue
      if (p.next === undefined) p.next = now + p.intervalMs
      if (now < p.next) continue
      await p.run(now)
      p.next = now + p.intervalMs
      ran = true
    }
    return ran
  }

  /** The processor's once-per-transaction work, before the outputs are taken. */
  async beforeCommit(): Promise<void> {
    await this.processor.beforeCommit?.()
  }

  /** How often wall-clock punctuators want to be checked; undefined when there are none. */
  wallClockInterval(): number | undefined {
    const intervals = this.punctuators
      .filter((p) => p.type === 'wall-clock')
      .map((p) => p.intervalMs)
    return intervals.length > 0 ? Math.min(...intervals) : undefined
  }

  private deadLetter(record: SourceRecord, err: unknown, stage: string): void {
    const { deadLetters, appId, topology, log } = this.options
    const letter = deadLetterFor(record, err, { stage, application: `${appId}/${topology.name}` })
    this.options.metrics?.deadLetters.inc({ topology: topology.name })
    log.warn('dead-lettered a record', {
      task: this.id,
      topic: record.topic,
      offset: record.offset,
      error: letter.errorMessage,
    })
    if (!deadLetters) {
      throw new ImflowError(
        'IMF_ERR_TOPOLOGY',
        `topology ${topology.name} has no dead-letter topic for: ${letter.errorMessage}`,
      )
    }
    const key = Buffer.from(record.topic)
    let value = deadLetters.encode(letter)
    if (recordBytes({ key, value }) > maxRecordBytes()) {
      // A dead letter carries the input's bytes; an input near the limit cannot travel twice.
      value = deadLetters.encode({
        ...letter,
        value: null,
        errorMessage: `${letter.errorMessage} (the value, ${record.value?.length ?? 0} bytes, is left out: too large for a dead letter; it stays at its source offset)`,
      })
    }
    this.push({ topic: deadLetters.topic, key, value })
  }

  /**
   * What the open transaction must send now, once: the outputs so far (and writes evicted
   * from the caches); with `flush`, every store's remaining writes too (before a commit).
   */
  takeRecords(flush: boolean): OutRecord[] {
    if (flush) {
      this.takeLatest()
      for (const [name, store] of this.options.stores) this.queueChangelog(name, store)
    }
    const records = this.outputs
    this.outputs = []
    this.outputBytes = 0
    return records
  }

  /** The open transaction's outputs and changelog records, in bytes on the wire (an upper bound). */
  pendingBytes(): number {
    let bytes = this.outputBytes + this.latest.bytes()
    // Asked per record: an array walk, not a Map iterator allocated each time.
    for (let i = 0; i < this.storeList.length; i++)
      bytes += (this.storeList[i] as ChangeloggedStore).pendingBytes()
    return bytes
  }

  /** Pending writes per store: what the open transaction costs in storage operations. */
  pendingWriteCounts(): Map<string, number> {
    return new Map(
      [...this.options.stores].map(([name, store]) => [name, store.pendingWrites().length]),
    )
  }

  /** After the transaction committed; resolves when the previous commit's writes are in RocksDB. */
  async commit(): Promise<void> {
    // Started together: each store's writes are visible to committed reads from the same moment.
    const landed = [...this.options.stores.values()].map((store) => store.commit())
    this.outputs = []
    this.outputBytes = 0
    this.latest.clear()
    await Promise.all(landed)
  }

  /** Every committed write in RocksDB. */
  async landed(): Promise<void> {
    await Promise.all([...this.options.stores.values()].map((store) => store.landed()))
  }

  /** After an abort: as if the records were never seen (stream time included). */
  rollback(streamTime: number): void {
    this.outputs = []
    this.outputBytes = 0
    this.latest.clear()
    this.streamTime = streamTime
    for (const store of this.options.stores.values()) store.rollback()
  }

  currentStreamTime(): number {
    return this.streamTime
  }

  async close(): Promise<void> {
    await this.processor.close?.()
  }
}
