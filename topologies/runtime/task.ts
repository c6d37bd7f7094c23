// A task: one input partition of one topology, with its stores, its transactional producer
// and its processor. Each consumed batch is one transaction: outputs, changelog writes and
// the input offset commit together or not at all; stores reach RocksDB only after commit.

import { join } from 'node:path'
import type { Kafka } from 'kafkajs'
import { isImflowError } from '../../ops/errors.js'
import type { Logger } from '../../ops/log.js'
import {
  ChangeloggedStore,
  deleteCheckpoint,
  RocksDbStore,
  readCheckpoint,
  writeCheckpoint,
} from '../../state/index.js'
import { changelogTopic, dataKey, newMarker } from './changelog.js'
import { deadLetterFor } from './dead-letters.js'
import {
  createTaskProducer,
  isFenced,
  type OutRecord,
  type TaskProducer,
  topicPartition,
} from './kafka-io.js'
import type { Restorer } from './restorer.js'
import type { InputRecord, OutputRecord, Processor, TopologyDefinition } from './topology.js'

export interface TaskOptions {
  kafka: Kafka
  appId: string
  groupId: string
  topology: TopologyDefinition
  partition: number
  stateDir: string
  restorer: Restorer
  deadLetters?: { topic: string; encode: (letter: ReturnType<typeof deadLetterFor>) => Buffer }
  log: Logger
  /** Kept alive while restoring: a long restore must not cost the group membership. */
  heartbeat: () => Promise<void>
}

export interface BatchControl {
  heartbeat(): Promise<void>
  /** False when the batch should stop early (shutdown or rebalance). */
  shouldContinue(): boolean
}

export interface ConsumedMessage {
  offset: string
  timestamp: string
  key: Buffer | null
  value: Buffer | null
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>
}

export class TaskFencedError extends Error {}

const MAX_ATTEMPTS = 5
/**
 * Records per transaction. A fetched batch can hold tens of thousands of records; committing
 * in slices bounds the work a crash throws away and the time outputs wait for their commit.
 */
const RECORDS_PER_TRANSACTION = 1_000

export class Task {
  private outputs: OutRecord[] = []
  private readonly changelogEnds = new Map<string, number>()
  private processor!: Processor

  private constructor(
    readonly id: string,
    private readonly options: TaskOptions,
    private readonly stores: Map<string, ChangeloggedStore>,
    private readonly raws: RocksDbStore[],
    private readonly producer: TaskProducer,
    private readonly dir: string,
  ) {}

  static async open(options: TaskOptions): Promise<Task> {
    const { topology, partition, appId, log } = options
    const id = `${topology.name}-${partition}`
    const dir = join(options.stateDir, appId, topology.name, String(partition))
    const checkpointPath = join(dir, 'checkpoint.json')
    const checkpoint = await readCheckpoint(checkpointPath)
    // From here on a crash leaves no checkpoint: the next open wipes and restores in full.
    await deleteCheckpoint(checkpointPath)
    const stores = new Map<string, ChangeloggedStore>()
    const raws: RocksDbStore[] = []
    for (const name of topology.stores ?? []) {
      const location = join(dir, name)
      if (!checkpoint) await RocksDbStore.destroy(location)
      const raw = await RocksDbStore.open(location)
      raws.push(raw)
      stores.set(name, new ChangeloggedStore(name, raw))
    }
    const producer = await createTaskProducer(options.kafka, `${appId}-${id}`)
    const task = new Task(id, options, stores, raws, producer, dir)
    try {
      await task.restore(checkpoint ?? {})
    } catch (err) {
      await task.close(false)
      throw err
    }
    task.processor = topology.processor({
      taskId: id,
      partition,
      store: (name) => {
        const store = stores.get(name)
        if (!store) throw new Error(`topology ${topology.name} declares no store ${name}`)
        return store
      },
      send: (sink, record) => task.emit(sink, record),
    })
    log.debug('task open', { task: id, fromCheckpoint: checkpoint !== undefined })
    return task
  }

  /** Writes a marker to each changelog partition (fencing any older producer), then reads up to it. */
  private async restore(checkpoint: Record<string, number>): Promise<void> {
    const { topology, partition, appId, restorer, log } = this.options
    const markers = [...this.stores.keys()].map((store) => ({
      store,
      topic: changelogTopic(appId, topology.name, store),
      marker: newMarker(),
    }))
    if (markers.length === 0) return
    const txn = await this.producer.begin()
    await txn.send(markers.map((m) => ({ topic: m.topic, partition, key: m.marker, value: null })))
    await txn.commit()
    const started = Date.now()
    const beat = setInterval(() => void this.options.heartbeat().catch(() => {}), 1_000)
    try {
      for (const m of markers) {
        const store = this.stores.get(m.store) as ChangeloggedStore
        const from = checkpoint[m.topic] ?? 0
        const result = await restorer.restore(m.topic, partition, from, m.marker, (ops) =>
          store.restore(ops),
        )
        this.changelogEnds.set(topicPartition(m.topic, partition), result.endOffset)
        log.info('store restored', {
          task: this.id,
          store: m.store,
          records: result.records,
          from,
          ms: Date.now() - started,
        })
      }
    } finally {
      clearInterval(beat)
    }
  }

  private emit(sink: string, record: OutputRecord): void {
    const target = this.options.topology.sinks?.[sink]
    if (!target) throw new Error(`topology ${this.options.topology.name} declares no sink ${sink}`)
    const partition =
      record.partition ?? (target.partitionBy === 'task' ? this.options.partition : undefined)
    this.outputs.push({
      topic: target.topic,
      key: typeof record.key === 'string' ? Buffer.from(record.key) : record.key,
      value: record.value,
      ...(partition === undefined ? {} : { partition }),
      ...(record.headers ? { headers: record.headers } : {}),
    })
  }

  /**
   * Processes the messages in transactions of up to RECORDS_PER_TRANSACTION records,
   * reporting each committed offset. A slice that fails is retried whole.
   */
  async processBatch(
    topic: string,
    messages: readonly ConsumedMessage[],
    control: BatchControl & { committed(offset: string): void },
  ): Promise<void> {
    for (
      let start = 0;
      start < messages.length && control.shouldContinue();
      start += RECORDS_PER_TRANSACTION
    ) {
      const last = await this.processSlice(
        topic,
        messages.slice(start, start + RECORDS_PER_TRANSACTION),
        control,
      )
      if (last === undefined) return
      control.committed(last)
    }
  }

  private async processSlice(
    topic: string,
    messages: readonly ConsumedMessage[],
    control: BatchControl,
  ): Promise<string | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(topic, messages, control)
      } catch (err) {
        this.rollback()
        if (isFenced(err))
          throw new TaskFencedError(`task ${this.id} was taken over by another instance`, {
            cause: err,
          })
        // A broker hiccup or a concurrent-transaction answer passes; a bad configuration does not.
        const permanent = isImflowError(err) && !err.retriable
        if (attempt >= MAX_ATTEMPTS || permanent) throw err
        this.options.log.warn('batch failed; retrying', {
          task: this.id,
          attempt,
          error: String(err),
        })
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt)))
      }
    }
  }

  private async attempt(
    topic: string,
    messages: readonly ConsumedMessage[],
    control: BatchControl,
  ): Promise<string | undefined> {
    const { topology, partition, groupId } = this.options
    const source = topology.sources.find((s) => s.topic === topic)
    let last: string | undefined
    let ends: Map<string, number>
    const txn = await this.producer.begin()
    try {
      for (const [i, m] of messages.entries()) {
        if (!control.shouldContinue()) break
        if (i % 200 === 199) await control.heartbeat()
        let value: unknown = m.value
        const record = {
          topic,
          partition,
          offset: m.offset,
          key: m.key,
          value: m.value,
          headers: m.headers ?? {},
        }
        try {
          if (source?.decode && m.value !== null) value = await source.decode(m.value)
        } catch (err) {
          if (isImflowError(err) && err.retriable) throw err
          this.deadLetter(record, err, 'decode')
          last = m.offset
          continue
        }
        const input: InputRecord = { ...record, timestamp: Number(m.timestamp), value }
        try {
          await this.processor.process(input)
        } catch (err) {
          if ((err as { retriable?: boolean }).retriable || topology.onProcessingError === 'fail')
            throw err
          this.deadLetter(record, err, topology.name)
        }
        last = m.offset
      }
      if (last === undefined) {
        await txn.abort()
        this.rollback()
        return undefined
      }
      const changelog: OutRecord[] = []
      for (const [name, store] of this.stores) {
        const topicName = changelogTopic(this.options.appId, topology.name, name)
        for (const op of store.pendingWrites()) {
          changelog.push({ topic: topicName, partition, key: dataKey(op.key), value: op.value })
        }
      }
      ends = await txn.send([...this.outputs, ...changelog])
      await txn.sendOffsets(groupId, topic, partition, Number(last) + 1)
      await txn.commit()
    } catch (err) {
      await txn.abort().catch(() => {})
      throw err
    }
    for (const store of this.stores.values()) await store.commit()
    for (const [tp, end] of ends) if (this.changelogEnds.has(tp)) this.changelogEnds.set(tp, end)
    this.outputs = []
    return last
  }

  private deadLetter(
    record: Parameters<typeof deadLetterFor>[0],
    err: unknown,
    stage: string,
  ): void {
    const sink = this.options.deadLetters
    const letter = deadLetterFor(record, err, {
      stage,
      application: `${this.options.appId}/${this.options.topology.name}`,
    })
    this.options.log.warn('dead-lettered a record', {
      task: this.id,
      topic: record.topic,
      offset: record.offset,
      error: letter.errorMessage,
    })
    if (!sink)
      throw new Error(
        `topology ${this.options.topology.name} has no dead-letter topic for: ${letter.errorMessage}`,
      )
    this.outputs.push({
      topic: sink.topic,
      key: Buffer.from(record.topic),
      value: sink.encode(letter),
    })
  }

  private rollback(): void {
    this.outputs = []
    for (const store of this.stores.values()) store.rollback()
  }

  /** clean: everything committed, so a checkpoint lets the next open skip the full restore. */
  async close(clean: boolean): Promise<void> {
    await this.processor?.close?.()
    await this.producer.disconnect().catch(() => {})
    for (const raw of this.raws) await raw.close().catch(() => {})
    if (clean && this.raws.length > 0) {
      await writeCheckpoint(
        join(this.dir, 'checkpoint.json'),
        Object.fromEntries(
          [...this.changelogEnds].map(([tp, end]) => [tp.slice(0, tp.lastIndexOf(':')), end]),
        ),
      )
    }
    this.options.log.debug('task closed', { task: this.id, clean })
  }
}
