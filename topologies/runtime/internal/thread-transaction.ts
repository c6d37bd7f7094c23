// One transaction per stream thread (IMFLOW_TRANSACTION_SCOPE=thread), as Kafka Streams'
// exactly_once_v2: every task of a runner sends its outputs, changelog records and input
// positions through one transactional producer whose id names the runner, not a partition, and
// one commit covers them all. A zombie is fenced by the group coordinator instead of by the id:
// the positions go out in one TxnOffsetCommit v3 with the consumer's generation and member id
// (KIP-447), which the coordinator refuses once the group has moved on.
//
// Tasks keep their own loop (task.ts): each gets a participant that looks like its own producer.
// A participant joins the thread's open transaction when it begins; the transaction commits as
// soon as every participant that joined has asked to commit, and tasks that begin meanwhile wait
// for the next one. So under load many tasks' work shares each commit, and an idle thread's lone
// task is not held back. A participant that fails (its processing, a send) aborts the whole
// transaction: every participant's commit fails, and each task rolls its stores back and does its
// work again, as after a failed transaction of its own.

import type { Kafka } from 'kafkajs'
import { ImflowError, isImflowError } from '../../../ops/errors.js'
import type { Logger } from '../../../ops/log.js'
import type { GroupMetadata } from '../../../ops/txn-offset-commit-v3.js'
import { committedAnyway, unsettledCommit } from './commit-outcome.js'
import {
  createTaskProducer,
  type EndOffsets,
  isFenced,
  type OpenTransaction,
  type OutRecord,
  type PartitionPosition,
  type TaskProducer,
  topicPartition,
} from './kafka-io.js'

/**
 * Kafka Streams' transaction timeout under exactly-once (10 s) would abort a commit that waits
 * on a loaded machine; 30 s still bounds how long a task that moved away from a crashed thread
 * waits for the stable offsets (the coordinator aborts the crashed thread's open transaction).
 */
export const THREAD_TRANSACTION_TIMEOUT_MS = 30_000
/** A transaction open this long is named in the log (warnWhileOpen). */
const STUCK_WARNING_MS = 10_000
/** A transaction takes new participants this long after it was opened, then only finishes. */
const JOIN_WINDOW_MS = 100

export interface ThreadTransactionsOptions {
  kafka: Kafka
  /** Stable per runner (thread-transactional-id.ts): a restart fences its own predecessor. */
  transactionalId: string
  groupId: string
  /** The thread consumer's membership now (kafkajs-group-generation.ts); undefined: not a member. */
  membership: () => GroupMetadata | undefined
  /** Whether the group's current assignment gives this member the partition. */
  isAssigned: (partition: number) => boolean
  log: Logger
  /** A task's transaction may span slices this long (IMFLOW_COMMIT_INTERVAL_MS): joins stay open as long. */
  commitIntervalMs: number
  /** A transaction begins at least this long after the one before it began (runner.ts). */
  paceMs?: number | undefined
}

/** A task in the thread's transactions. */
interface Member {
  readonly task: string
  readonly partition: number
  /** The task's committed positions: re-sent when it has none of its own, so its commit is fenced too. */
  readonly held: () => readonly PartitionPosition[]
}

interface Settled {
  promise: Promise<void>
  resolve(): void
  reject(err: unknown): void
}

function settled(): Settled {
  let resolve!: () => void
  let reject!: (err: unknown) => void
  const promise = new Promise<void>((yes, no) => {
    resolve = yes
    reject = no
  })
  promise.catch(() => {})
  return { promise, resolve, reject }
}

/** One transaction of the thread and the tasks in it. */
class Shared {
  readonly opened = performance.now()
  readonly joined = new Set<Member>()
  readonly done = new Set<Member>()
  /** The positions the tasks sent, by topic-partition. */
  readonly positions = new Map<string, PartitionPosition>()
  /** Why it must abort, once a participant failed. */
  failure: unknown
  /** Every task's records, sent together before the commit: one request per MiB, not one per task. */
  readonly records: OutRecord[] = []
  /** Where they ended: filled before the commit, read by the tasks after it. */
  readonly ends: EndOffsets = new Map()
  sealed = false
  readonly outcome = settled()
  constructor(
    readonly txn: Promise<OpenTransaction>,
    readonly membership: GroupMetadata,
  ) {
    txn.catch((err) => {
      this.failure ??= err
    })
  }
}

function sameMembership(a: GroupMetadata, b: GroupMetadata): boolean {
  return a.generationId === b.generationId && a.memberId === b.memberId
}

export class ThreadTransactions {
  private open: Shared | undefined
  /** The last transaction's end: the next one begins after it (one producer, one at a time). */
  private previous: Promise<unknown> = Promise.resolve()
  /** When the last transaction began: the next one waits for the pace. */
  private begunAt = Number.NEGATIVE_INFINITY

  private constructor(
    private readonly producer: TaskProducer,
    private readonly options: ThreadTransactionsOptions,
  ) {}

  static async create(options: ThreadTransactionsOptions): Promise<ThreadTransactions> {
    const producer = await createTaskProducer(options.kafka, options.transactionalId, {
      transactionTimeoutMs: THREAD_TRANSACTION_TIMEOUT_MS,
    })
    return new ThreadTransactions(producer, options)
  }

  /** A task's view of the thread's producer: its transactions are shares of the thread's. */
  participant(
    task: string,
    partition: number,
    held: () => readonly PartitionPosition[],
  ): TaskProducer {
    let disconnected = false
    return {
      settlesCommits: true,
      begin: async () => {
        if (disconnected)
          throw new ImflowError(
            'IMF_ERR_INTERNAL',
            `task ${task} is closed: it takes no transaction`,
          )
        const member: Member = { task, partition, held }
        const shared = this.join(member)
        try {
          await shared.txn
        } catch (err) {
          this.finish(shared, member)
          throw err
        }
        return this.share(shared, member)
      },
      // The thread's transaction recovers by itself (end()): a task's reset has nothing to drop.
      reset: async () => {},
      ready: async () => {},
      disconnect: async () => {
        disconnected = true
      },
    }
  }

  async disconnect(): Promise<void> {
    await this.previous
    await this.producer.disconnect()
  }

  /** The open transaction, or a new one: never one of another generation, never past its window. */
  private join(member: Member): Shared {
    const membership = this.options.membership()
    // The group gave the partition to someone else (or the consumer is between members): a
    // transaction of the current generation must not carry this task's work.
    if (!membership || !this.options.isAssigned(member.partition)) {
      throw new ImflowError(
        'IMF_ERR_GROUP_FENCED',
        `task ${member.task}: partition ${member.partition} is not this member's in the group's current assignment`,
        { details: { ...membership, task: member.task } },
      )
    }
    const window = Math.max(JOIN_WINDOW_MS, this.options.commitIntervalMs, this.options.paceMs ?? 0)
    const current = this.open
    if (
      current &&
      !current.sealed &&
      performance.now() - current.opened < window &&
      sameMembership(current.membership, membership)
    ) {
      current.joined.add(member)
      return current
    }
    const before = this.previous
    const shared = new Shared(
      before.then(() => this.paced()).then(() => this.producer.begin()),
      membership,
    )
    shared.joined.add(member)
    this.open = shared
    this.previous = shared.outcome.promise.catch(() => {})
    this.warnWhileOpen(shared)
    return shared
  }

  /**
   * Waits for the pace, if any: the tasks that join meanwhile share the transaction, and their
   * partitions' next records wait in Kafka for the next one.
   */
  private async paced(): Promise<void> {
    const wait = this.begunAt + (this.options.paceMs ?? 0) - performance.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    this.begunAt = performance.now()
  }

  /**
   * Every task of the thread waits for the slowest one in its transaction: a transaction still
   * open after STUCK_WARNING_MS names the tasks it waits for, once every such interval.
   */
  private warnWhileOpen(shared: Shared): void {
    const timer = setInterval(() => {
      const waitingFor = [...shared.joined].filter((m) => !shared.done.has(m)).map((m) => m.task)
      this.options.log.warn("the thread's transaction is still open", {
        transactionalId: this.options.transactionalId,
        openMs: Math.round(performance.now() - shared.opened),
        waitingFor,
        ...(waitingFor.length === 0 && { committing: true }),
      })
    }, STUCK_WARNING_MS)
    timer.unref()
    void shared.outcome.promise.catch(() => {}).finally(() => clearInterval(timer))
  }

  private share(shared: Shared, member: Member): OpenTransaction {
    const record = (positions: readonly PartitionPosition[]) => {
      for (const p of positions) shared.positions.set(topicPartition(p.topic, p.partition), p)
    }
    return {
      send: async (records) => {
        if (shared.failure) throw shared.failure
        for (const r of records) shared.records.push(r)
        return shared.ends
      },
      // Gathered: every task's positions go out in one TxnOffsetCommit, with the generation.
      sendOffsets: async (_group, partition, positions) =>
        record(positions.map((p) => ({ ...p, partition }))),
      sendPositions: async (_group, positions) => record(positions),
      commit: async () => {
        this.finish(shared, member)
        await shared.outcome.promise
      },
      abort: async () => {
        shared.failure ??= new ImflowError(
          'IMF_ERR_TRANSACTION_ABORTED',
          `the thread's transaction was aborted: task ${member.task} failed in it`,
          { details: { task: member.task } },
        )
        this.finish(shared, member)
        await shared.outcome.promise.catch(() => {})
      },
    }
  }

  /** A participant is through; the last one of a transaction ends it. */
  private finish(shared: Shared, member: Member): void {
    shared.done.add(member)
    if (shared.sealed || shared.done.size < shared.joined.size) return
    shared.sealed = true
    if (this.open === shared) this.open = undefined
    void this.end(shared)
  }

  /** Every task's positions (their committed ones for a task that sent none) and the commit. */
  private async end(shared: Shared): Promise<void> {
    let txn: OpenTransaction | undefined
    const reported = [...shared.positions.values()]
    try {
      txn = await shared.txn
      if (shared.failure) throw shared.failure
      if (shared.records.length > 0)
        for (const [tp, end] of await txn.send(shared.records)) shared.ends.set(tp, end)
      const positions = new Map(shared.positions)
      for (const member of shared.joined) {
        if (reported.some((p) => p.partition === member.partition)) continue
        for (const p of member.held()) positions.set(topicPartition(p.topic, p.partition), p)
      }
      if (positions.size > 0) await txn.sendPositions(shared.membership, [...positions.values()])
    } catch (err) {
      await txn?.abort().catch(() => {})
      await this.recover(err)
      return shared.outcome.reject(err)
    }
    try {
      await txn.commit()
      shared.outcome.resolve()
    } catch (err) {
      await this.settle(shared, reported, err)
    }
  }

  /** A commit that failed may have gone through: one reported position tells (commit-outcome.ts). */
  private async settle(
    shared: Shared,
    reported: readonly PartitionPosition[],
    err: unknown,
  ): Promise<void> {
    const [probe] = reported
    if (isFenced(err) || !probe) {
      await this.recover(err)
      const members = [...shared.joined].map((m) => m.task).join(', ')
      return shared.outcome.reject(isFenced(err) ? err : unsettledCommit(members, err))
    }
    try {
      const committed = await committedAnyway({
        kafka: this.options.kafka,
        producer: this.producer,
        groupId: this.options.groupId,
        topic: probe.topic,
        partition: probe.partition,
        next: probe.nextOffset,
        taskId: this.options.transactionalId,
        log: this.options.log,
        cause: err,
      })
      if (committed) shared.outcome.resolve()
      else shared.outcome.reject(err)
    } catch (failure) {
      await this.recover(failure)
      shared.outcome.reject(failure)
    }
  }

  /** After a failure kafkajs may leave the producer unusable: the next transaction makes a new one. */
  private async recover(err: unknown): Promise<void> {
    // Refused offsets leave the producer sound: the abort was enough.
    if (isImflowError(err, 'IMF_ERR_GROUP_FENCED')) return
    await this.producer.reset()
  }
}
