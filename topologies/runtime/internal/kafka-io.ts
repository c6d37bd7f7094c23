// The runtime's narrow window on the Kafka client. Everything kafkajs-specific about
// transactions lives here, including the workarounds for its known pitfalls, so another
// client could be put behind the same interface with a measured reason.

import { type Kafka, Partitioners, type Producer, type Transaction } from 'kafkajs'
import { ImflowError, isImflowError } from '../../../ops/errors.js'
import { sendOffsetsWithGroupMetadata } from '../../../ops/kafkajs-fenced-offsets.js'
import { retry } from '../../../ops/retry.js'
import type { GroupMetadata } from '../../../ops/txn-offset-commit-v3.js'
import { DEFAULT_MAX_BATCH_BYTES, produceRequests } from './output-batches.js'
import { TASK_COMMIT_METADATA } from './start-position.js'

export interface OutRecord {
  topic: string
  key: Buffer | null
  value: Buffer | null
  partition?: number
  headers?: Record<string, Buffer | string>
  timestamp?: string
}

/** Where records ended up: the offset after the last record sent to each topic-partition. */
export type EndOffsets = Map<string, number>

export function topicPartition(topic: string, partition: number): string {
  return `${topic}:${partition}`
}

export interface TopicPosition {
  topic: string
  nextOffset: number
}

/** A consumer position of any partition: what one thread's transaction commits for its tasks. */
export interface PartitionPosition extends TopicPosition {
  partition: number
  /** The commit's metadata; left out: a task's own (TASK_COMMIT_METADATA). */
  metadata?: string | null
}

export interface OpenTransaction {
  send(records: readonly OutRecord[]): Promise<EndOffsets>
  /**
   * The consumer's positions (next offset to read) on a partition's topics, committed with the
   * transaction. `group` is the group id (fenced by this producer's transactional id alone,
   * today's one producer per task) or the consumer's membership (TxnOffsetCommit v3: the group
   * coordinator fences by its generation, KIP-447, so one producer may serve many tasks).
   */
  sendOffsets(
    group: string | GroupMetadata,
    partition: number,
    positions: readonly TopicPosition[],
  ): Promise<void>
  /** Positions of any partitions in one TxnOffsetCommit (a thread's tasks, thread-transaction.ts). */
  sendPositions(
    group: string | GroupMetadata,
    positions: readonly PartitionPosition[],
  ): Promise<void>
  commit(): Promise<void>
  abort(): Promise<void>
}

export interface TaskProducer {
  begin(): Promise<OpenTransaction>
  /** Drops the client after a failure it may not recover from; the next begin() makes a new one. */
  reset(): Promise<void>
  /**
   * A connected client: a new one registers the transactional id (InitProducerId), and the
   * coordinator first finishes or aborts the transaction an earlier client left open.
   */
  ready(): Promise<void>
  disconnect(): Promise<void>
  /**
   * The commit settles a failed commit itself (a thread's shared transaction: it resolves only
   * when the transaction committed), so the task must not settle it again (commit-outcome.ts).
   */
  readonly settlesCommits?: boolean
}

/**
 * Another instance took over this task (its producer has our transactional id, or the group
 * moved past the generation our offsets carried): stop, do not retry.
 */
export function isFenced(err: unknown): boolean {
  if (isImflowError(err, 'IMF_ERR_GROUP_FENCED')) return true
  const type = (err as { type?: unknown }).type
  const text = String((err as Error)?.message ?? err)
  return (
    type === 'PRODUCER_FENCED' ||
    type === 'INVALID_PRODUCER_EPOCH' ||
    /fenced|INVALID_PRODUCER_EPOCH|PRODUCER_FENCED/i.test(text)
  )
}

/** kafkajs answers these while the coordinator finishes the previous transaction (#430, #1315). */
function isConcurrentTransactions(err: unknown): boolean {
  return /CONCURRENT_TRANSACTIONS|concurrent transactions/i.test(
    String((err as Error)?.message ?? err),
  )
}

const concurrentRetry = { retries: 10, initialDelayMs: 20, maxDelayMs: 500 }

async function retryConcurrent<T>(work: () => Promise<T>): Promise<T> {
  return retry(async () => {
    try {
      return await work()
    } catch (err) {
      if (isConcurrentTransactions(err)) throw Object.assign(err as Error, { retriable: true })
      throw err
    }
  }, concurrentRetry)
}

/** The broker refused a batch as too large for it (a topic's max.message.bytes may be below ours). */
function isTooLarge(err: unknown): boolean {
  const type = (err as { type?: unknown }).type
  return (
    type === 'MESSAGE_TOO_LARGE' ||
    type === 'RECORD_LIST_TOO_LARGE' ||
    /MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE|too large/i.test(
      String((err as Error)?.message ?? err),
    )
  )
}

export interface TaskProducerOptions {
  /** Bytes per produce request (default: Kafka's 1 MiB message.max.bytes). */
  maxBatchBytes?: number
  /** How long the coordinator lets a transaction stay open before it aborts it (default 60 s). */
  transactionTimeoutMs?: number
}

/**
 * A transactional producer for one task. Its transactional id names the task, so when a
 * task moves to another instance, the new producer fences the old one (EOS before KIP-447:
 * kafkajs' TxnOffsetCommit carries no group generation, so fencing must come from here).
 *
 * reset() drops the kafkajs producer; the next begin() makes a new one with the same id.
 * That is the way out of a state kafkajs cannot leave by itself (OUT_OF_ORDER_SEQUENCE_NUMBER
 * after a refused batch, "Cannot call beginTransaction in state COMMITTING"): the new
 * producer's InitProducerId finishes or aborts whatever the old one left open.
 */
export async function createTaskProducer(
  kafka: Kafka,
  transactionalId: string,
  options: TaskProducerOptions = {},
): Promise<TaskProducer> {
  let maxBatchBytes = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES
  const create = async (): Promise<Producer> => {
    const producer = kafka.producer({
      // Kafka's default (murmur2) partitioner, the one partitionForKey() mirrors.
      createPartitioner: Partitioners.DefaultPartitioner,
      transactionalId,
      idempotent: true,
      // kafkajs' idempotent producer keeps order only with one request in flight.
      maxInFlightRequests: 1,
      transactionTimeout: options.transactionTimeoutMs ?? 60_000,
      // The coordinator answers CONCURRENT_TRANSACTIONS for a few milliseconds after each
      // commit; kafkajs' default first retry (300 ms) would cap a task at ~3 transactions/s.
      retry: { initialRetryTime: 10, maxRetryTime: 1_000, retries: 12 },
    })
    try {
      await producer.connect()
      // connect() registers kafkajs' idempotent producer only, without the transactional id.
      // The id is registered by the first transaction(): the coordinator then finishes or
      // aborts an earlier client's transaction and fences that client. An empty transaction
      // ends without a request, so a new client has settled its predecessor when it returns.
      await (await retryConcurrent(() => producer.transaction())).abort()
    } catch (err) {
      await producer.disconnect().catch(() => {})
      throw err
    }
    return producer
  }
  let current: Producer | undefined = await create()
  let disconnected = false
  const producer = async (): Promise<Producer> => {
    // Never a new client once disconnected: it would fence the task's next producer.
    if (disconnected)
      throw new ImflowError('IMF_ERR_INTERNAL', `producer ${transactionalId} is disconnected`)
    current ??= await create()
    return current
  }
  return {
    async begin() {
      const txn: Transaction = await retryConcurrent(async () => (await producer()).transaction())
      return {
        async send(records) {
          const ends: EndOffsets = new Map()
          for (const chunk of produceRequests(records, maxBatchBytes)) {
            try {
              for (const [tp, end] of await sendChunk(txn, chunk)) ends.set(tp, end)
            } catch (err) {
              // Learn the smaller limit of a topic (max.message.bytes), down to a record a request.
              if (isTooLarge(err) && chunk.length > 1)
                maxBatchBytes = Math.max(1_024, Math.floor(maxBatchBytes / 2))
              throw err
            }
          }
          return ends
        },
        sendOffsets: (group, partition, positions) =>
          sendPositions(
            txn,
            group,
            positions.map((p) => ({ ...p, partition })),
          ),
        sendPositions: (group, positions) => sendPositions(txn, group, positions),
        commit: () => retryConcurrent(() => txn.commit()),
        abort: () => retryConcurrent(() => txn.abort()),
      }
    },
    async ready() {
      await producer()
    },
    async reset() {
      const old = current
      current = undefined
      await old?.disconnect().catch(() => {})
    },
    disconnect: async () => {
      disconnected = true
      await current?.disconnect()
      current = undefined
    },
  }
}

/** Positions in one TxnOffsetCommit, grouped by topic; fenced by the generation when `group` is a membership. */
function sendPositions(
  txn: Transaction,
  group: string | GroupMetadata,
  positions: readonly PartitionPosition[],
): Promise<void> {
  const byTopic = new Map<
    string,
    { partition: number; offset: string; metadata: string | null }[]
  >()
  for (const { topic, partition, nextOffset, metadata = TASK_COMMIT_METADATA } of positions) {
    const list = byTopic.get(topic) ?? []
    // A task's own commit says so: a rewind by anyone else carries other metadata.
    list.push({ partition, offset: String(nextOffset), metadata })
    byTopic.set(topic, list)
  }
  const topics = [...byTopic].map(([topic, partitions]) => ({ topic, partitions }))
  return retryConcurrent(() =>
    typeof group === 'string'
      ? txn.sendOffsets({ consumerGroupId: group, topics })
      : sendOffsetsWithGroupMetadata(txn, { ...group, topics }),
  )
}

/** One produce request of the transaction; the offset after each partition's last record. */
async function sendChunk(txn: Transaction, records: readonly OutRecord[]): Promise<EndOffsets> {
  const byTopic = new Map<string, OutRecord[]>()
  for (const r of records) {
    const list = byTopic.get(r.topic)
    if (list) list.push(r)
    else byTopic.set(r.topic, [r])
  }
  const results = await retryConcurrent(() =>
    txn.sendBatch({
      topicMessages: [...byTopic].map(([topic, messages]) => ({
        topic,
        // One shape per record, no conditional spreads (kafkajs reads an undefined field as
        // absent: its partitioner picks, no headers, the time of the send).
        messages: messages.map(({ key, value, partition, headers, timestamp }) => ({
          key,
          value,
          partition,
          headers,
          timestamp,
        })),
      })),
    }),
  )
  // Records per partition, by topic: no topic-partition string per record.
  const counts = new Map<string, Map<number, number>>()
  for (const [topic, list] of byTopic) {
    const perPartition = new Map<number, number>()
    for (const r of list)
      if (r.partition !== undefined)
        perPartition.set(r.partition, (perPartition.get(r.partition) ?? 0) + 1)
    counts.set(topic, perPartition)
  }
  const ends: EndOffsets = new Map()
  for (const meta of results) {
    const n = counts.get(meta.topicName)?.get(meta.partition)
    if (n !== undefined && meta.baseOffset !== undefined)
      ends.set(topicPartition(meta.topicName, meta.partition), Number(meta.baseOffset) + n)
  }
  return ends
}
