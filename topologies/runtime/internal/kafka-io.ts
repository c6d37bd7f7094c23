// The runtime's narrow window on the Kafka client. Everything kafkajs-specific about
// transactions lives here, including the workarounds for its known pitfalls, so another
// client could be put behind the same interface with a measured reason.

import { type Kafka, Partitioners, type Producer, type Transaction } from 'kafkajs'
import { retry } from '../../../ops/retry.js'

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

export interface OpenTransaction {
  send(records: readonly OutRecord[]): Promise<EndOffsets>
  /** The consumer's position (next offset to read), committed with the transaction. */
  sendOffsets(groupId: string, topic: string, partition: number, nextOffset: number): Promise<void>
  commit(): Promise<void>
  abort(): Promise<void>
}

export interface TaskProducer {
  begin(): Promise<OpenTransaction>
  disconnect(): Promise<void>
}

/** Another instance took over this task (its producer has our transactional id): stop, do not retry. */
export function isFenced(err: unknown): boolean {
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

/**
 * A transactional producer for one task. Its transactional id names the task, so when a
 * task moves to another instance, the new producer fences the old one (EOS before KIP-447:
 * kafkajs' TxnOffsetCommit carries no group generation, so fencing must come from here).
 */
export async function createTaskProducer(
  kafka: Kafka,
  transactionalId: string,
): Promise<TaskProducer> {
  const producer: Producer = kafka.producer({
    // Kafka's default (murmur2) partitioner, the one partitionForKey() mirrors.
    createPartitioner: Partitioners.DefaultPartitioner,
    transactionalId,
    idempotent: true,
    // kafkajs' idempotent producer keeps order only with one request in flight.
    maxInFlightRequests: 1,
    transactionTimeout: 60_000,
    // The coordinator answers CONCURRENT_TRANSACTIONS for a few milliseconds after each
    // commit; kafkajs' default first retry (300 ms) would cap a task at ~3 transactions/s.
    retry: { initialRetryTime: 10, maxRetryTime: 1_000, retries: 12 },
  })
  await producer.connect()
  return {
    async begin() {
      const txn: Transaction = await retryConcurrent(() => producer.transaction())
      return {
        async send(records) {
          if (records.length === 0) return new Map()
          const byTopic = new Map<string, OutRecord[]>()
          for (const r of records) {
            const list = byTopic.get(r.topic)
            if (list) list.push(r)
            else byTopic.set(r.topic, [r])
          }
          const counts = new Map<string, number>()
          const results = await retryConcurrent(() =>
            txn.sendBatch({
              topicMessages: [...byTopic].map(([topic, messages]) => ({
                topic,
                messages: messages.map(({ key, value, partition, headers, timestamp }) => ({
                  key,
                  value,
                  ...(partition === undefined ? {} : { partition }),
                  ...(headers === undefined ? {} : { headers }),
                  ...(timestamp === undefined ? {} : { timestamp }),
                })),
              })),
            }),
          )
          for (const r of records) {
            if (r.partition === undefined) continue
            const tp = topicPartition(r.topic, r.partition)
            counts.set(tp, (counts.get(tp) ?? 0) + 1)
          }
          const ends: EndOffsets = new Map()
          for (const meta of results) {
            const tp = topicPartition(meta.topicName, meta.partition)
            const n = counts.get(tp)
            if (n !== undefined && meta.baseOffset !== undefined)
              ends.set(tp, Number(meta.baseOffset) + n)
          }
          return ends
        },
        sendOffsets: (groupId, topic, partition, nextOffset) =>
          retryConcurrent(() =>
            txn.sendOffsets({
              consumerGroupId: groupId,
              topics: [{ topic, partitions: [{ partition, offset: String(nextOffset) }] }],
            }),
          ),
        commit: () => retryConcurrent(() => txn.commit()),
        abort: () => retryConcurrent(() => txn.abort()),
      }
    },
    disconnect: () => producer.disconnect(),
  }
}
