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
  type TaskCheckpoint,
  writeCheckpoint,
} from '../../../state/index.js'
import { changelogTopic, positionKey } from '../changelog.js'
import type { DeadLetterEncoder } from '../dead-letters.js'
import type { TopologyDefinition } from '../topology.js'
import { backfillStores } from './backfill.js'
import {
  committedAnyway,
  committedOffsets,
  TaskCorruptedError,
  unsettledCommit,
} from './commit-outcome.js'
import { FilteredStretches } from './filtered-stretches.js'
import {
  createTaskProducer,
  type EndOffsets,
  isFenced,
  type OpenTransaction,
  type OutRecord,
  type PartitionPosition,
  type TaskProducer,
  type TopicPosition,
} from './kafka-io.js'
import type { OncePerProducer } from './misplaced.js'
import { maxRecordBytes } from './output-batches.js'
import { checkpointWithinChangelogs, restoreStores } from './restore-stores.js'
import type { Restorer } from './restorer.js'
import {
  DEFAULT_SLICE_LIMITS,
  type SliceLimits,
  sliceFull,
  YIELD_EVERY_MS,
  yieldToEventLoop,
} from './slice-bounds.js'
import { type GroupCommit, startPosition, TASK_COMMIT_METADATA } from './start-position.js'
import { type ConsumedMessage, TaskCore } from './task-core.js'
import type { ThreadTransactions } from './thread-transaction.js'

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
   * A transaction spans slices, of every batch fetched before it began, until this long has
   * passed; 0: one transaction per slice (of each batch handed over). Resolved by the runner.
   */
  commitIntervalMs: number
  /** Each store's record cache, in bytes (see ChangeloggedStore); undefined: unbounded. */
  cacheMaxBytes?: number | undefined
  /** How often a running task checkpoints its stores (default CHECKPOINT_INTERVAL_MS). */
  checkpointIntervalMs?: number | undefined
  /** The sources' partition count: misplaced records are re-routed (misplaced.ts). */
  partitions?: number | undefined
  misplacedNotices?: OncePerProducer | undefined
  /** Aborted when the task is closed before it opened: a backfill under way stops. */
  signal?: AbortSignal | undefined
  /**
   * The runner's one transaction per thread (IMFLOW_TRANSACTION_SCOPE=thread): the task commits
   * through it, not through a producer of its own; undefined: a producer per task.
   */
  threadTransactions?: ThreadTransactions | undefined
  /**
   * A wall-clock punctuation's commit ended with its outcome unknown (no batch carries the
   * failure to the runner): the task must be opened again, restored from its changelogs.
   */
  onCorrupted?: ((err: TaskCorruptedError) => void) | undefined
}

export interface BatchControl {
  heartbeat(): Promise<void>
  /** False when the batch should stop early (shutdown or rebalance). */
  shouldContinue(): boolean
  /** The offset of the last record of a committed transaction (taken as read when paused). */
  committed(offset: string): void
  /**
   * The batch ends unprocessed (stopped, failed, fetched past a rewind): its partition must be
   * read again from `offset`, the task's position. A consumer fetching ahead took the batch
   * as read (batch-handler.ts), so without this the records not processed would not come again.
   * True when the partition is read again from `offset` for it; false when the consumer reads
   * on from its own position (paused, it never took the batch as read), or holds the
   * partition no more.
   */
  rewind(offset: number): boolean
}

export class TaskFencedError extends Error {}

/**
 * The batch reached a task that is closing or closed (a failure reopened it, a rebalance took
 * it): nothing of it was processed, and it is read again (rewind) for the partition's next task.
 */
export class TaskClosedError extends Error {}

export { TaskCorruptedError } from './commit-outcome.js'

/**
 * How long a failing transaction is retried (backoff up to RETRY_MAX_DELAY_MS) before the
 * task gives up: long enough to ride out a broker restart, short enough to be noticed.
 */
const RETRY_FOR_MS = 300_000
const RETRY_MAX_DELAY_MS = 1_000
const MIN_WALL_CLOCK_TICK_MS = 5
/** How often a slice asks kafkajs whether a heartbeat is due. */
const HEARTBEAT_ASK_MS = 20
/**
 * A running task checkpoints at most this often: after a crash its stores restore what the
 * changelogs took since (seconds of writes), not everything they ever took.
 */
export const CHECKPOINT_INTERVAL_MS = 5_000

/** A transaction while its slices are sent: begun with the first records to send. */
interface OpenSlices {
  txn: OpenTransaction | undefined
  /**
   * Where each send's records ended (the offset after the last one per topic-partition). Read
   * after the commit: a thread's shared transaction fills them only when it sends every task's
   * records together, before it commits (thread-transaction.ts).
   */
  ends: EndOffsets[]
  sent: number
}

/** What a transaction over part of a batch got through. */
interface SliceResult {
  /** Index of the first message not processed. */
  next: number
  /** The last offset taken: the last message's, or the batch end's past trailing control records. */
  last: string
}

/** A fetched batch of one source topic, waiting for a transaction or part way through. */
interface QueuedBatch {
  topic: string
  /** The offset the consumer fetched it from: it follows on only from a position at or past it. */
  fetchedFrom: number
  messages: readonly ConsumedMessage[]
  control: BatchControl
  batchEnd: string | undefined
  /** Index of the first message not committed yet. */
  next: number
  done(): void
  fail(err: unknown): void
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Where a batch goes on from: its next message, past any the task has committed already. */
function skipDone(batch: QueuedBatch, committedNext: number | undefined): number {
  let from = batch.next
  while (
    committedNext !== undefined &&
    from < batch.messages.length &&
    Number((batch.messages[from] as ConsumedMessage).offset) < committedNext
  )
    from++
  return from
}

/** The last offset taken after processing up to `next`: past trailing control records at the batch's end. */
function lastTaken(batch: QueuedBatch, next: number): string {
  const last = (batch.messages[next - 1] as ConsumedMessage).offset
  const atEnd = next === batch.messages.length && batch.batchEnd !== undefined
  return atEnd && Number(batch.batchEnd) > Number(last) ? (batch.batchEnd as string) : last
}

/** Times the parts of one commit into imflow_task_commit_phase_seconds. */
function commitPhases(metrics: TaskMetrics | undefined, topology: string) {
  let last = 0
  return {
    start(now: number) {
      last = now
    },
    mark(phase: string) {
      const now = performance.now()
      metrics?.commitPhaseSeconds.observe({ topology, phase }, (now - last) / 1000)
      last = now
    },
  }
}

export class Task {
  readonly id: string
  private core!: TaskCore
  private readonly changelogEnds = new Map<string, number>()
  private checkpointedAt = Number.NEGATIVE_INFINITY
  /** The last checkpoint on its way to disk: written in order, and close() waits for it. */
  private checkpointing: Promise<void> = Promise.resolve()
  /** Batches and wall-clock punctuations take turns: one transaction at a time. */
  private turn: Promise<unknown> = Promise.resolve()
  private wallClock: NodeJS.Timeout | undefined
  /** A wall-clock tick waiting for its turn: ticks never queue up behind a long batch. */
  private tickPending = false
  /** Batches handed over and not done; `draining` while a turn works through them. */
  private readonly queued: QueuedBatch[] = []
  private draining = false
  /** What kafkajs filtered to nothing, for the position to pass (filtered-stretches.ts). */
  private readonly filtered = new FilteredStretches()
  /**
   * Set as close() begins: no batch is taken or processed after it. A closed task that went
   * on would make a new producer with its transactional id, fence the partition's next task
   * and commit what that one commits too.
   */
  private closed = false
  /**
   * Per source topic, the offset after the last record this task committed. A batch handed
   * over again (read again after a rewind, by a new consumer from the group's committed
   * offset, while an earlier batch may still be committing) skips what is already in:
   * nothing is processed twice.
   */
  private readonly committedNext = new Map<string, number>()
  /** Per source topic, where the first batch handed over was fetched (position() before a commit). */
  private readonly firstFetched = new Map<string, number>()
  /**
   * Per source topic, the offset it was rewound to, until a batch fetched from there comes:
   * batches fetched past it meanwhile follow a gap (what was given up) and are read again.
   * Only then: a fetch may start past the task's position by right (a stretch of transaction
   * markers, compacted away records), and the task would not tell.
   */
  private readonly rewound = new Map<string, number>()
  /**
   * Source topics whose committedNext came from a commit that was not a task's (a rewind, a
   * commit of an older version) and that no commit of this task has moved since: topic -> its
   * metadata, which a thread's transaction keeps when it sends the position again
   * (start-position.ts). Not in checkpoints: no position record vouches for them.
   */
  private readonly groupSet = new Map<string, string | null>()
  /**
   * Source topics the group answered an older commit for than the task's own (a broker's
   * stale answer, start-position.ts): the task's own is committed again at once, so that the
   * group, and every check of it, is right even before the next record.
   */
  private readonly staleGroup = new Set<string>()

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
    const id = `${topology.name}-${partition}`
    // Kept while the task opens: a crash meanwhile leaves its stores at or past it still.
    const saved = await readCheckpoint(join(dir, 'checkpoint.json'))
    const checkpoint = await checkpointWithinChangelogs({ ...options, taskId: id }, saved?.offsets)
    const stores = new Map<string, ChangeloggedStore>()
    const raws: RocksDbStore[] = []
    // The task's committed positions, known once it opened (see committedNext).
    let held = (): PartitionPosition[] => []
    const producer = options.threadTransactions
      ? options.threadTransactions.participant(id, partition, () => held())
      : await createTaskProducer(options.kafka, `${appId}-${topology.name}-${partition}`)
    const task = new Task(options, stores, raws, producer, dir)
    held = () => task.heldPositions()
    // Whatever fails from here closes what was opened: a store left open would lock the
    // partition's next open out.
    try {
      for (const name of topology.stores ?? []) {
        const location = join(dir, name)
        if (!checkpoint) await RocksDbStore.destroy(location)
        const raw = await RocksDbStore.open(location)
        raws.push(raw)
        // A changelog record carries a tag byte before the store key.
        stores.set(name, new ChangeloggedStore(name, raw, { maxRecordBytes: maxRecordBytes() - 1 }))
      }
      const context = { ...options, taskId: task.id, producer, stores }
      const { ends, histories, positions } = await restoreStores(context, checkpoint ?? {})
      for (const [tp, end] of ends) task.changelogEnds.set(tp, end)
      const own = new Map(Object.entries(checkpoint ? (saved?.positions ?? {}) : {}))
      for (const [topic, next] of positions) own.set(topic, next)
      // New stores built from the log before anything is processed (docs/replay.md, Backfill).
      await backfillStores({ ...context, histories, ended: (e) => task.changelogsEnded(e) })
      const sources = topology.sources.map((s) => s.topic)
      const commits = await committedOffsets(
        options.kafka,
        options.groupId,
        sources,
        partition,
        // With one producer per thread nothing ends an old owner's open transaction for us.
        options.threadTransactions !== undefined,
      )
      for (const topic of sources) task.startAt(topic, commits.get(topic), own.get(topic))
      task.core = new TaskCore({ ...options, stores })
    } catch (err) {
      await task.close(false)
      throw err
    }
    // Restored and built: a crash from here on restores from this point.
    task.checkpointWhenDue()
    const interval = task.core.wallClockInterval()
    if (interval !== undefined) {
      // Checked as often as the most frequent punctuator asks (a sync packer's 20 ms delay
      // must not become 100 ms), but a tick that finds nothing due commits nothing.
      task.wallClock = setInterval(
        () => void task.punctuateWallClock(),
        Math.max(MIN_WALL_CLOCK_TICK_MS, Math.min(interval, 100)),
      )
    }
    if (task.staleGroup.size > 0) void task.punctuateWallClock()
    options.log.debug('task open', { task: task.id, fromCheckpoint: checkpoint !== undefined })
    return task
  }

  /** Where the task goes on reading `topic`: the group's commit, checked against its own. */
  private startAt(topic: string, group: GroupCommit | undefined, own: number | undefined): void {
    const start = startPosition(group, own)
    if (start.from === 'own') {
      this.options.log.warn(
        "the group answered an older commit than the task's own: going on from the task's",
        { task: this.id, topic, group: start.groupOffset ?? 'none', own: start.offset },
      )
      this.options.metrics?.staleGroupOffsets.inc({ topology: this.options.topology.name })
      this.staleGroup.add(topic)
    } else if (group && group.metadata !== TASK_COMMIT_METADATA) {
      this.groupSet.set(topic, group.metadata)
    }
    if (start.offset !== undefined) this.committedNext.set(topic, start.offset)
  }

  /** The positions this task committed last (a thread's transaction re-sends them to be fenced). */
  private heldPositions(): PartitionPosition[] {
    const { partition } = this.options
    return [...this.committedNext].map(([topic, nextOffset]) => ({
      topic,
      partition,
      nextOffset,
      ...(this.groupSet.has(topic) && { metadata: this.groupSet.get(topic) ?? null }),
    }))
  }

  /** Each position also into the first store's changelog, in the transaction that commits it. */
  private positionRecords(positions: readonly TopicPosition[]): OutRecord[] {
    const { appId, topology, partition } = this.options
    const first = topology.stores?.[0]
    if (first === undefined) return []
    const topic = changelogTopic(appId, topology.name, first)
    return positions.map((p) => ({
      topic,
      partition,
      key: positionKey(p.topic),
      value: Buffer.from(String(p.nextOffset)),
    }))
  }

  /** A transaction's changelog records ended here: where the checkpoint will say to restore from. */
  private changelogsEnded(ends: EndOffsets): void {
    for (const [tp, end] of ends) if (this.changelogEnds.has(tp)) this.changelogEnds.set(tp, end)
  }

  /** Each store's changelog topic -> where it ended, and the positions committed up to there. */
  private checkpoint(): TaskCheckpoint {
    return {
      offsets: Object.fromEntries(
        [...this.changelogEnds].map(([tp, end]) => [tp.slice(0, tp.lastIndexOf(':')), end]),
      ),
      positions: Object.fromEntries(
        [...this.committedNext].filter(([topic]) => !this.groupSet.has(topic)),
      ),
    }
  }

  /**
   * Between transactions, at most every checkpointIntervalMs: where the changelogs end now,
   * written once the commits up to here are in RocksDB (a checkpoint never names a write
   * RocksDB has not got). The task goes on meanwhile.
   */
  private checkpointWhenDue(): void {
    const interval = this.options.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS
    if (this.raws.length === 0 || performance.now() - this.checkpointedAt < interval) return
    this.checkpointedAt = performance.now()
    const checkpoint = this.checkpoint()
    const landed = this.core.landed()
    const path = join(this.dir, 'checkpoint.json')
    this.checkpointing = this.checkpointing
      .then(() => landed)
      .then(
        () => writeCheckpoint(path, checkpoint, { closed: false }),
        // A write RocksDB refused: the task is reopened, and close() deletes the checkpoint.
        () => {},
      )
      .catch((err) =>
        this.options.log.warn('checkpoint not written', { task: this.id, error: String(err) }),
      )
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
   * fully consumed partition shows no lag. Batches of the task's other source topics handed
   * over meanwhile (the same fetch: kafkajs hands each topic-partition over on its own) share
   * the transactions: one commit for all of them, not one per topic.
   */
  processBatch(
    topic: string,
    fetchedFrom: number,
    messages: readonly ConsumedMessage[],
    control: BatchControl,
    batchEnd?: string,
  ): Promise<void> {
    if (!this.firstFetched.has(topic)) this.firstFetched.set(topic, fetchedFrom)
    if (this.closed) {
      control.rewind(this.position(topic) ?? fetchedFrom)
      return Promise.reject(new TaskClosedError(`task ${this.id} is closed`))
    }
    return new Promise((done, fail) => {
      this.queued.push({ topic, fetchedFrom, messages, control, batchEnd, next: 0, done, fail })
      if (this.draining) return
      this.draining = true
      void this.exclusive(() => this.drain())
    })
  }

  /**
   * kafkajs read `topic` from `from` up to `to` and filtered all of it out: passed with the
   * next transaction (a wall-clock one, after the transaction under way if there is one).
   */
  passFiltered(topic: string, from: number, to: number): void {
    if (this.closed) return
    this.filtered.add(topic, from, to)
    void this.punctuateWallClock()
  }

  /** Transactions over every queued batch at once, until each is done or told to stop. */
  private async drain(): Promise<void> {
    // The fetch's other batches for this task arrive in this same turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve))
    let batches: QueuedBatch[] = []
    try {
      for (;;) {
        batches.push(...this.queued.splice(0))
        if (this.closed) throw new TaskClosedError(`task ${this.id} is closed`)
        batches = batches.filter((b) => {
          b.next = skipDone(b, this.committedNext.get(b.topic))
          // All of it below the task's position (the group answered an older commit): kafkajs
          // is told to go on past it, else it fetches the same batch again and again.
          if (b.next === b.messages.length && b.messages.length > 0)
            b.control.committed(lastTaken(b, b.next))
          let open = b.next < b.messages.length && b.control.shouldContinue()
          // Since a batch of its topic was given up and rewound: one fetched past the rewind's
          // offset was fetched before it took effect (ahead of the records given up), and is
          // read again too; the first from at or before that offset is the read again.
          const rewound = this.rewound.get(b.topic)
          if (open && rewound !== undefined) {
            if (b.fetchedFrom > rewound) open = false
            else this.rewound.delete(b.topic)
          }
          if (!open) this.release(b)
          return open
        })
        if (batches.length === 0) return
        const current = batches
        const results = await this.withRetries(
          () => this.transaction(current),
          () => current.some((b) => b.control.shouldContinue()),
        )
        if (results.size === 0) {
          for (const b of current) this.release(b)
          batches = []
        }
        for (const [b, result] of results) {
          b.control.committed(result.last)
          b.next = result.next
        }
      }
    } catch (err) {
      for (const b of [...batches, ...this.queued.splice(0)]) this.release(b, err)
    } finally {
      this.draining = false
    }
  }

  /** A batch leaves the queue: done, or given up part way and read again from the position. */
  private release(b: QueuedBatch, err?: unknown): void {
    if (b.next < b.messages.length) {
      const offset = this.position(b.topic) ?? b.fetchedFrom
      if (b.control.rewind(offset)) this.rewound.set(b.topic, offset)
    }
    if (err === undefined) b.done()
    else b.fail(err)
  }

  /**
   * Where the task goes on reading `topic`: its committed position, past stretches filtered to
   * nothing; before its first commit, where its first batch was fetched.
   */
  private position(topic: string): number | undefined {
    const committed = this.committedNext.get(topic)
    if (committed === undefined) return this.firstFetched.get(topic)
    return this.filtered.passFrom(topic, committed)
  }

  private punctuateWallClock(): Promise<void> {
    if (this.tickPending) return Promise.resolve()
    this.tickPending = true
    return this.exclusive(async () => {
      this.tickPending = false
      if (!this.closed) await this.withRetries(() => this.transaction([]))
    }).catch((err) => {
      this.options.log.error('wall-clock punctuation failed', {
        task: this.id,
        error: String(err),
      })
      if (err instanceof TaskCorruptedError) this.options.onCorrupted?.(err)
    })
  }

  /**
   * Retries a failed transaction with a new producer (whatever state kafkajs was left in,
   * fencing aside) for up to RETRY_FOR_MS, or until the batches should stop or the task
   * closes (close() waits for this turn: a stop must not wait out the retries).
   */
  private async withRetries<T>(
    work: () => Promise<T>,
    shouldContinue: () => boolean = () => true,
  ): Promise<T> {
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
        if (err instanceof TaskCorruptedError) {
          // Nothing more may run on this state (a tick queued meanwhile would): the runner reopens the task.
          this.closed = true
          throw err
        }
        // A bad configuration or a failing processor under the 'fail' policy does not pass.
        const permanent = isImflowError(err) && !err.retriable
        const stopping = this.closed || !shouldContinue()
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
    let beat = started
    let i = from
    await this.core.prefetch(topic, messages, from, from + limits.records)
    for (; i < messages.length; i++) {
      const now = performance.now()
      if (i > from && sliceFull(limits, i - from, this.core.pendingBytes(), started, now)) break
      if (control && !control.shouldContinue()) break
      // kafkajs sends a heartbeat only when one is due (every 500 ms or more): asking every
      // few ms keeps a slow processor in its group (kafkajs #1083) without an await a record.
      if (control && i > from && now - beat >= HEARTBEAT_ASK_MS) {
        await control.heartbeat()
        beat = now
      }
      if (now - yielded >= YIELD_EVERY_MS) {
        await yieldToEventLoop()
        yielded = performance.now()
      }
      await this.core.process(topic, messages[i] as ConsumedMessage)
    }
    return i
  }

  /**
   * One transaction: slices of the batches in turn, each from where it stands, until the
   * commit interval has passed (with 0: a slice of each); with no batch, a wall-clock
   * punctuation. Each slice's outputs are sent as it ends, in the open transaction; the
   * stores' writes wait in their caches for the commit. Returns how far each batch got (none
   * when it had nothing to commit).
   */
  private async transaction(
    batches: readonly QueuedBatch[],
  ): Promise<Map<QueuedBatch, SliceResult>> {
    const { partition, groupId, metrics, topology } = this.options
    const started = performance.now()
    const interval = this.options.commitIntervalMs
    const open: OpenSlices = { txn: undefined, ends: [], sent: 0 }
    const results = new Map<QueuedBatch, SliceResult>()
    /** Per topic taken, the position this transaction commits. */
    const taken = new Map<string, number>()
    let committing = started
    const phases = commitPhases(metrics, topology.name)
    try {
      if (batches.length === 0) await this.core.punctuate('wall-clock', Date.now())
      const reached = new Map(this.committedNext)
      /** Topics with a batch that stopped part way: their later batches wait for it. */
      const cut = new Set<string>()
      for (const b of batches) {
        if (cut.has(b.topic)) continue
        const from = skipDone(b, reached.get(b.topic))
        if (from >= b.messages.length) continue
        // The interval has passed: this batch and the ones after it wait for the next transaction.
        if (results.size > 0 && interval > 0 && performance.now() - started >= interval) break
        const next = await this.processSlices(b.topic, b.messages, from, b.control, open, started)
        if (next < b.messages.length) cut.add(b.topic)
        if (next === from) continue
        const last = lastTaken(b, next)
        reached.set(b.topic, Number(last) + 1)
        results.set(b, { next, last })
      }
      for (const [b, r] of results) taken.set(b.topic, Number(r.last) + 1)
      for (const topic of this.staleGroup) {
        const own = reached.get(topic)
        if (own !== undefined && !taken.has(topic)) taken.set(topic, own)
      }
      for (const topic of this.filtered.topics()) {
        const at = reached.get(topic)
        if (at === undefined) continue
        const past = this.filtered.passFrom(topic, at)
        if (past > at) taken.set(topic, past)
      }
      await this.core.beforeCommit()
      committing = performance.now()
      phases.start(committing)
      const positions = [...taken].map(([topic, nextOffset]) => ({ topic, nextOffset }))
      const records = this.core.takeRecords(true)
      if (taken.size === 0 && records.length === 0 && !open.txn) return results
      // The positions are the runtime's bookkeeping, not the topology's records: not counted.
      await this.send(open, [...records, ...this.positionRecords(positions)], records.length)
      open.txn ??= await this.producer.begin()
      phases.mark('send')
      if (positions.length > 0) await open.txn.sendOffsets(groupId, partition, positions)
      phases.mark('offsets')
    } catch (err) {
      // Never committed: the retry (with a new producer, whose start aborts this one) is safe.
      await open.txn?.abort().catch(() => {})
      throw err
    }
    try {
      await open.txn.commit()
      phases.mark('commit')
    } catch (err) {
      // All or nothing: one topic's committed position tells for the whole transaction.
      const [first] = taken
      // A thread's transaction settled it already: it failed only if it did not commit.
      if (isFenced(err) || this.producer.settlesCommits) throw err
      // A punctuation's alone: no position to ask, and redoing it could send its outputs twice.
      if (!first) throw unsettledCommit(this.id, err)
      const [topic, next] = first
      const settled = { ...this.options, producer: this.producer, topic, taskId: this.id }
      if (!(await committedAnyway({ ...settled, next, cause: err }))) throw err
      open.ends = []
    }
    for (const [topic, next] of taken) {
      this.committedNext.set(topic, next)
      this.groupSet.delete(topic)
      this.staleGroup.delete(topic)
      this.filtered.committed(topic, next)
    }
    const writes = this.core.pendingWriteCounts()
    await this.core.commit().catch((err) => {
      // Kafka has writes RocksDB did not take: the task restores from its changelogs.
      throw new TaskCorruptedError(`task ${this.id}: a store did not take committed writes`, {
        cause: err,
      })
    })
    phases.mark('stores')
    for (const [store, n] of writes)
      if (n > 0) metrics?.storeWrites.inc({ topology: topology.name, store }, n)
    for (const ends of open.ends) this.changelogsEnded(ends)
    this.checkpointWhenDue()
    if (metrics) {
      const labels = { topology: topology.name, partition: String(partition) }
      let processed = 0
      for (const [b, r] of results) processed += r.next - b.next
      metrics.recordsIn.inc(labels, processed)
      metrics.recordsOut.inc(labels, open.sent)
      metrics.processSeconds.observe({ topology: topology.name }, (committing - started) / 1000)
      metrics.commitSeconds.observe(
        { topology: topology.name },
        (performance.now() - committing) / 1000,
      )
    }
    return results
  }

  /** Slices until the commit is due; each slice's outputs go out in the open transaction. */
  private async processSlices(
    topic: string,
    messages: readonly ConsumedMessage[],
    from: number,
    control: BatchControl | undefined,
    open: OpenSlices,
    /** When the transaction began: its commit is due the commit interval after. */
    started: number,
  ): Promise<number> {
    const interval = this.options.commitIntervalMs
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

  private async send(
    open: OpenSlices,
    records: readonly OutRecord[],
    counted = records.length,
  ): Promise<void> {
    if (records.length === 0) return
    open.txn ??= await this.producer.begin()
    open.ends.push(await open.txn.send(records))
    open.sent += counted
  }

  /** A store's committed state, for queries from outside the task. */
  committedStore(name: string): ChangeloggedStore['committed'] | undefined {
    return this.stores.get(name)?.committed
  }

  /**
   * clean: everything committed, so the checkpoint is where the changelogs end now; else the
   * last one written while running still holds. A store that refused a write is not trusted:
   * its checkpoint goes, and the next open restores it in full.
   */
  async close(clean: boolean): Promise<void> {
    this.closed = true
    clearInterval(this.wallClock)
    await this.turn
    await this.core?.close()
    await this.producer.disconnect().catch(() => {})
    // A checkpoint vouches for RocksDB: only once every committed write is in it.
    const landed = await (this.core?.landed() ?? Promise.resolve()).then(
      () => true,
      () => false,
    )
    for (const raw of this.raws) await raw.close().catch(() => {})
    await this.checkpointing
    const path = join(this.dir, 'checkpoint.json')
    if (!landed) await deleteCheckpoint(path)
    else if (clean && this.raws.length > 0)
      await writeCheckpoint(path, this.checkpoint(), { closed: true })
    this.options.log.debug('task closed', { task: this.id, clean })
  }
}
