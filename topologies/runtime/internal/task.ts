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
import type { DeadLetterEncoder } from '../dead-letters.js'
import type { TopologyDefinition } from '../topology.js'
import { backfillStores } from './backfill.js'
import { committedAnyway, TaskCorruptedError } from './commit-outcome.js'
import {
  createTaskProducer,
  type EndOffsets,
  isFenced,
  type OpenTransaction,
  type OutRecord,
  type TaskProducer,
} from './kafka-io.js'
import type { OncePerProducer } from './misplaced.js'
import { maxRecordBytes } from './output-batches.js'
import { restoreStores } from './restore-stores.js'
import type { Restorer } from './restorer.js'
import {
  DEFAULT_SLICE_LIMITS,
  type SliceLimits,
  sliceFull,
  YIELD_EVERY_MS,
  yieldToEventLoop,
} from './slice-bounds.js'
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
  /** How much one slice takes on (records, bytes, processing time). */
  sliceLimits?: SliceLimits | undefined
  /**
   * A transaction spans slices until this long has passed (or the fetched batch ends);
   * 0 or undefined: one transaction per slice.
   */
  commitIntervalMs?: number | undefined
  /** Each store's record cache, in bytes (see ChangeloggedStore); undefined: unbounded. */
  cacheMaxBytes?: number | undefined
  /** The sources' partition count: misplaced records are re-routed (misplaced.ts). */
  partitions?: number | undefined
  misplacedNotices?: OncePerProducer | undefined
  /** Aborted when the task is closed before it opened: a backfill under way stops. */
  signal?: AbortSignal | undefined
}

export interface BatchControl {
  heartbeat(): Promise<void>
  /** False when the batch should stop early (shutdown or rebalance). */
  shouldContinue(): boolean
  /** The offset of the last record of a committed transaction. */
  committed(offset: string): void
}

export class TaskFencedError extends Error {}

export { TaskCorruptedError } from './commit-outcome.js'

/**
 * How long a failing transaction is retried (backoff up to RETRY_MAX_DELAY_MS) before the
 * task gives up: long enough to ride out a broker restart, short enough to be noticed.
 */
const RETRY_FOR_MS = 300_000
const RETRY_MAX_DELAY_MS = 1_000
const MIN_WALL_CLOCK_TICK_MS = 5

/** A transaction while its slices are sent: begun with the first records to send. */
interface OpenSlices {
  txn: OpenTransaction | undefined
  /** The offset after the last record sent to each topic-partition. */
  ends: Map<string, number>
  sent: number
}

/** What a transaction over part of a batch got through. */
interface SliceResult {
  /** Index of the first message not processed. */
  next: number
  /** Offset to resolve: the last message's, or the batch end's past trailing control records. */
  last: string
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

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
      // A changelog record carries a tag byte before the store key.
      stores.set(name, new ChangeloggedStore(name, raw, { maxRecordBytes: maxRecordBytes() - 1 }))
    }
    const producer = await createTaskProducer(
      options.kafka,
      `${appId}-${topology.name}-${partition}`,
    )
    const task = new Task(options, stores, raws, producer, dir)
    try {
      const context = { ...options, taskId: task.id, producer, stores }
      const { ends, histories } = await restoreStores(context, checkpoint ?? {})
      for (const [tp, end] of ends) task.changelogEnds.set(tp, end)
      // New stores built from the log before anything is processed (docs/replay.md, Backfill).
      await backfillStores({ ...context, histories, ended: (e) => task.changelogsEnded(e) })
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

  /** A transaction's changelog records ended here: where the checkpoint will say to restore from. */
  private changelogsEnded(ends: EndOffsets): void {
    for (const [tp, end] of ends) if (this.changelogEnds.has(tp)) this.changelogEnds.set(tp, end)
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = this.turn.then(work, work)
    this.turn = next.catch(() => {})
    return next
  }

  /**
   * Processes the messages in transactions, each a slice bounded by records, bytes and time
   * (SliceLimits). `batchEnd` is the batch's last offset including control records
   * (transaction markers), which never reach us: the last transaction commits past them, so a
   * fully consumed partition shows no lag.
   */
  processBatch(
    topic: string,
    messages: readonly ConsumedMessage[],
    control: BatchControl,
    batchEnd?: string,
  ): Promise<void> {
    return this.exclusive(async () => {
      let start = 0
      while (start < messages.length && control.shouldContinue()) {
        const from = start
        const result = await this.withRetries(
          () => this.transaction(topic, messages, from, control, batchEnd),
          control,
        )
        if (result === undefined) return
        control.committed(result.last)
        start = result.next
      }
    })
  }

  private punctuateWallClock(): Promise<void> {
    if (this.tickPending) return Promise.resolve()
    this.tickPending = true
    return this.exclusive(async () => {
      this.tickPending = false
      await this.withRetries(() => this.transaction(undefined, [], 0, undefined))
    }).catch((err) =>
      this.options.log.error('wall-clock punctuation failed', {
        task: this.id,
        error: String(err),
      }),
    )
  }

  /**
   * Retries a failed transaction with a new producer (whatever state kafkajs was left in,
   * fencing aside) for up to RETRY_FOR_MS, or until the batch should stop.
   */
  private async withRetries<T>(work: () => Promise<T>, control?: BatchControl): Promise<T> {
    const giveUpAt = Date.now() + RETRY_FOR_MS
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
        if (err instanceof TaskCorruptedError) throw err
        // A bad configuration or a failing processor under the 'fail' policy does not pass.
        const permanent = isImflowError(err) && !err.retriable
        const stopping = control !== undefined && !control.shouldContinue()
        if (permanent || stopping || Date.now() >= giveUpAt) throw err
        this.options.log.warn('transaction failed; retrying with a new producer', {
          task: this.id,
          attempt,
          error: String(err),
        })
        await this.producer.reset()
        await sleep(Math.min(RETRY_MAX_DELAY_MS, 50 * 2 ** attempt))
      }
    }
  }

  /** Processes messages from `from` until the slice is full; outputs and writes stay in memory. */
  private async processSlice(
    topic: string,
    messages: readonly ConsumedMessage[],
    from: number,
    control: BatchControl | undefined,
  ): Promise<number> {
    const limits = this.options.sliceLimits ?? DEFAULT_SLICE_LIMITS
    const started = performance.now()
    let yielded = started
    let i = from
    await this.core.prefetch(topic, messages.slice(from, from + limits.records))
    for (; i < messages.length; i++) {
      const now = performance.now()
      if (i > from && sliceFull(limits, i - from, this.core.pendingBytes(), started, now)) break
      if (control && !control.shouldContinue()) break
      // kafkajs sends a heartbeat only when one is due: asking per record is cheap, and a
      // slow processor keeps its group membership (kafkajs #1083).
      if (control && i > from) await control.heartbeat()
      if (now - yielded >= YIELD_EVERY_MS) {
        await yieldToEventLoop()
        yielded = performance.now()
      }
      await this.core.process(topic, messages[i] as ConsumedMessage)
    }
    return i
  }

  /**
   * One transaction: slices of the messages (when a topic is given) until the commit
   * interval has passed or the batch ends, or a wall-clock punctuation. Each slice's outputs
   * are sent as it ends, in the open transaction; the stores' writes wait in their caches
   * for the commit. Returns how far it got, undefined when it had nothing to commit.
   */
  private async transaction(
    topic: string | undefined,
    messages: readonly ConsumedMessage[],
    from: number,
    control: BatchControl | undefined,
    batchEnd?: string,
  ): Promise<SliceResult | undefined> {
    const { partition, groupId, metrics, topology } = this.options
    const started = performance.now()
    const open: OpenSlices = { txn: undefined, ends: new Map(), sent: 0 }
    let next = from
    let last: string | undefined
    let committing = started
    try {
      if (topic === undefined) await this.core.punctuate('wall-clock', Date.now())
      else next = await this.processSlices(topic, messages, from, control, open)
      last = next > from ? (messages[next - 1] as ConsumedMessage).offset : undefined
      if (last !== undefined && next === messages.length && batchEnd !== undefined)
        if (Number(batchEnd) > Number(last)) last = batchEnd
      committing = performance.now()
      const records = this.core.takeRecords(true)
      if (last === undefined && records.length === 0 && !open.txn) return undefined
      await this.send(open, records)
      open.txn ??= await this.producer.begin()
      if (topic !== undefined && last !== undefined)
        await open.txn.sendOffsets(groupId, topic, partition, Number(last) + 1)
    } catch (err) {
      // Never committed: the retry (with a new producer, whose start aborts this one) is safe.
      await open.txn?.abort().catch(() => {})
      throw err
    }
    try {
      await open.txn.commit()
    } catch (err) {
      if (isFenced(err) || topic === undefined || last === undefined) throw err
      const settled = { ...this.options, producer: this.producer, topic, taskId: this.id }
      if (!(await committedAnyway({ ...settled, next: Number(last) + 1, cause: err }))) throw err
      open.ends.clear()
    }
    const writes = this.core.pendingWriteCounts()
    await this.core.commit()
    for (const [store, n] of writes)
      if (n > 0) metrics?.storeWrites.inc({ topology: topology.name, store }, n)
    this.changelogsEnded(open.ends)
    if (metrics) {
      const labels = { topology: topology.name, partition: String(partition) }
      metrics.recordsIn.inc(labels, next - from)
      metrics.recordsOut.inc(labels, open.sent)
      metrics.processSeconds.observe({ topology: topology.name }, (committing - started) / 1000)
      metrics.commitSeconds.observe(
        { topology: topology.name },
        (performance.now() - committing) / 1000,
      )
    }
    return last === undefined ? undefined : { next, last }
  }

  /** Slices until the commit is due; each slice's outputs go out in the open transaction. */
  private async processSlices(
    topic: string,
    messages: readonly ConsumedMessage[],
    from: number,
    control: BatchControl | undefined,
    open: OpenSlices,
  ): Promise<number> {
    const started = performance.now()
    const interval = this.options.commitIntervalMs ?? 0
    let next = from
    for (;;) {
      next = await this.processSlice(topic, messages, next, control)
      const due =
        next >= messages.length ||
        performance.now() - started >= interval ||
        (control !== undefined && !control.shouldContinue())
      if (due) return next
      await this.send(open, this.core.takeRecords(false))
    }
  }

  private async send(open: OpenSlices, records: readonly OutRecord[]): Promise<void> {
    if (records.length === 0) return
    open.txn ??= await this.producer.begin()
    for (const [tp, end] of await open.txn.send(records)) open.ends.set(tp, end)
    open.sent += records.length
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
