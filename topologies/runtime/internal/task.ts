// A task on Kafka: one input partition of one topology, with its stores, its transactional
// producer and its processor (TaskCore). Records are processed in transactions: outputs,
// changelog writes and the input offset commit together or not at all; the stores reach
// RocksDB only after the commit.

import { join } from 'node:path'
import type { Kafka } from 'kafkajs'
import { isImflowError } from '../../../ops/errors.js'
import type { Logger } from '../../../ops/log.js'
import type { TaskMetrics } from '../../../ops/metrics.js'
import {
  ChangeloggedStore,
  deleteCheckpoint,
  RocksDbStore,
  readCheckpoint,
  writeCheckpoint,
} from '../../../state/index.js'
import { changelogTopic, newMarker } from '../changelog.js'
import type { DeadLetterEncoder } from '../dead-letters.js'
import type { TopologyDefinition } from '../topology.js'
import { createTaskProducer, isFenced, type TaskProducer, topicPartition } from './kafka-io.js'
import type { Restorer } from './restorer.js'
import { type ConsumedMessage, TaskCore } from './task-core.js'

export type { ConsumedMessage } from './task-core.js'

export interface TaskOptions {
  kafka: Kafka
  appId: string
  groupId: string
  topology: TopologyDefinition
  partition: number
  stateDir: string
  restorer: Restorer
  deadLetters?: DeadLetterEncoder | undefined
  log: Logger
  metrics?: TaskMetrics | undefined
}

export interface BatchControl {
  heartbeat(): Promise<void>
  /** False when the batch should stop early (shutdown or rebalance). */
  shouldContinue(): boolean
  /** The offset of the last record of a committed transaction. */
  committed(offset: string): void
}

export class TaskFencedError extends Error {}

const MAX_ATTEMPTS = 5
const MIN_WALL_CLOCK_TICK_MS = 5
/**
 * Records per transaction. A fetched batch can hold tens of thousands of records; committing
 * in slices bounds the work a crash throws away and the time outputs wait for their commit.
 */
const RECORDS_PER_TRANSACTION = 1_000

export class Task {
  readonly id: string
  private core!: TaskCore
  private readonly changelogEnds = new Map<string, number>()
  /** Batches and wall-clock punctuations take turns: one transaction at a time. */
  private turn: Promise<unknown> = Promise.resolve()
  private wallClock: NodeJS.Timeout | undefined
  /** A wall-clock tick waiting for its turn: ticks never queue up behind a long batch. */
  private tickPending = false

  private constructor(
    private readonly options: TaskOptions,
    private readonly stores: Map<string, ChangeloggedStore>,
    private readonly raws: RocksDbStore[],
    private readonly producer: TaskProducer,
    private readonly dir: string,
  ) {
    this.id = `${options.topology.name}-${options.partition}`
  }

  static async open(options: TaskOptions): Promise<Task> {
    const { topology, partition, appId } = options
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
    const producer = await createTaskProducer(
      options.kafka,
      `${appId}-${topology.name}-${partition}`,
    )
    const task = new Task(options, stores, raws, producer, dir)
    try {
      await task.restore(checkpoint ?? {})
      task.core = new TaskCore({ ...options, stores })
    } catch (err) {
      await task.close(false)
      throw err
    }
    const interval = task.core.wallClockInterval()
    if (interval !== undefined) {
      // Checked as often as the most frequent punctuator asks (a sync packer's 20 ms delay
      // must not become 100 ms), but a tick that finds nothing due commits nothing.
      task.wallClock = setInterval(
        () => void task.punctuateWallClock(),
        Math.max(MIN_WALL_CLOCK_TICK_MS, Math.min(interval, 100)),
      )
    }
    options.log.debug('task open', { task: task.id, fromCheckpoint: checkpoint !== undefined })
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
    // The runner keeps the group membership meanwhile: kafkajs heartbeats on its own while
    // no batch waits, and a batch waiting for this open heartbeats itself.
    const started = Date.now()
    try {
      for (const m of markers) {
        const store = this.stores.get(m.store) as ChangeloggedStore
        const from = checkpoint[m.topic] ?? 0
        const result = await restorer.restore(m.topic, partition, from, m.marker, (ops) =>
          store.restore(ops),
        )
        this.changelogEnds.set(topicPartition(m.topic, partition), result.endOffset)
        this.options.metrics?.restoredRecords.inc(
          { topology: topology.name, store: m.store },
          result.records,
        )
        log.info('store restored', {
          task: this.id,
          store: m.store,
          records: result.records,
          from,
          ms: Date.now() - started,
        })
      }
    } finally {
      this.options.metrics?.restoreSeconds.observe(
        { topology: topology.name },
        (Date.now() - started) / 1000,
      )
    }
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = this.turn.then(work, work)
    this.turn = next.catch(() => {})
    return next
  }

  /**
   * Processes the messages in transactions of up to RECORDS_PER_TRANSACTION records.
   * `batchEnd` is the batch's last offset including control records (transaction markers),
   * which never reach us: the last transaction commits past them, so a fully consumed
   * partition shows no lag.
   */
  processBatch(
    topic: string,
    messages: readonly ConsumedMessage[],
    control: BatchControl,
    batchEnd?: string,
  ): Promise<void> {
    return this.exclusive(async () => {
      for (
        let start = 0;
        start < messages.length && control.shouldContinue();
        start += RECORDS_PER_TRANSACTION
      ) {
        const slice = messages.slice(start, start + RECORDS_PER_TRANSACTION)
        const through = start + RECORDS_PER_TRANSACTION >= messages.length ? batchEnd : undefined
        const last = await this.withRetries(() => this.transaction(topic, slice, control, through))
        if (last === undefined) return
        control.committed(last)
      }
    })
  }

  private punctuateWallClock(): Promise<void> {
    if (this.tickPending) return Promise.resolve()
    this.tickPending = true
    return this.exclusive(async () => {
      this.tickPending = false
      await this.withRetries(() => this.transaction(undefined, [], undefined))
    }).catch((err) =>
      this.options.log.error('wall-clock punctuation failed', {
        task: this.id,
        error: String(err),
      }),
    )
  }

  private async withRetries<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const streamTime = this.core.currentStreamTime()
      try {
        return await work()
      } catch (err) {
        this.core.rollback(streamTime)
        if (isFenced(err))
          throw new TaskFencedError(`task ${this.id} was taken over by another instance`, {
            cause: err,
          })
        // A broker hiccup or a concurrent-transaction answer passes; a bad configuration does not.
        const permanent = isImflowError(err) && !err.retriable
        if (attempt >= MAX_ATTEMPTS || permanent) throw err
        this.options.log.warn('transaction failed; retrying', {
          task: this.id,
          attempt,
          error: String(err),
        })
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt)))
      }
    }
  }

  /**
   * One transaction: the messages (when a topic is given) or a wall-clock punctuation.
   * Returns the offset of the last message committed.
   */
  private async transaction(
    topic: string | undefined,
    messages: readonly ConsumedMessage[],
    control: BatchControl | undefined,
    through?: string,
  ): Promise<string | undefined> {
    const { partition, groupId, metrics, topology } = this.options
    let last: string | undefined
    let processed = 0
    const started = performance.now()
    // Processing needs no open transaction: it only collects writes in memory.
    if (topic === undefined) {
      await this.core.punctuate('wall-clock', Date.now())
    } else {
      for (const [i, m] of messages.entries()) {
        if (control && !control.shouldContinue()) break
        // kafkajs sends a heartbeat only when one is due: asking per record is cheap, and a
        // slow processor keeps its group membership (kafkajs #1083).
        if (control && i > 0) await control.heartbeat()
        await this.core.process(topic, m)
        last = m.offset
        processed++
      }
    }
    const records = this.core.pendingRecords()
    if (last === undefined && records.length === 0) return undefined
    const committing = performance.now()
    const txn = await this.producer.begin()
    let ends: Map<string, number>
    try {
      ends = await txn.send(records)
      if (topic !== undefined && last !== undefined) {
        if (
          through !== undefined &&
          processed === messages.length &&
          Number(through) > Number(last)
        ) {
          last = through
        }
        await txn.sendOffsets(groupId, topic, partition, Number(last) + 1)
      }
      await txn.commit()
    } catch (err) {
      await txn.abort().catch(() => {})
      throw err
    }
    const writes = this.core.pendingWriteCounts()
    await this.core.commit()
    for (const [store, n] of writes)
      if (n > 0) metrics?.storeWrites.inc({ topology: topology.name, store }, n)
    for (const [tp, end] of ends) if (this.changelogEnds.has(tp)) this.changelogEnds.set(tp, end)
    if (metrics) {
      const labels = { topology: topology.name, partition: String(partition) }
      metrics.recordsIn.inc(labels, processed)
      metrics.recordsOut.inc(labels, records.length)
      metrics.processSeconds.observe({ topology: topology.name }, (committing - started) / 1000)
      metrics.commitSeconds.observe(
        { topology: topology.name },
        (performance.now() - committing) / 1000,
      )
    }
    return last
  }

  /** A store's committed state, for queries from outside the task. */
  committedStore(name: string): ChangeloggedStore['committed'] | undefined {
    return this.stores.get(name)?.committed
  }

  /** clean: everything committed, so a checkpoint lets the next open skip the full restore. */
  async close(clean: boolean): Promise<void> {
    clearInterval(this.wallClock)
    await this.turn
    await this.core?.close()
    await this.producer.disconnect().catch(() => {})
    for (const raw of this.raws) await raw.close().catch(() => {})
    if (clean && this.raws.length > 0) {
      const checkpoint = Object.fromEntries(
        [...this.changelogEnds].map(([tp, end]) => [tp.slice(0, tp.lastIndexOf(':')), end]),
      )
      await writeCheckpoint(join(this.dir, 'checkpoint.json'), checkpoint)
    }
    this.options.log.debug('task closed', { task: this.id, clean })
  }
}
