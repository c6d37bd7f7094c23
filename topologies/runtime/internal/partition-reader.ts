// Reads single partitions from a given offset, read_committed, on demand: one consumer in its
// own group (so every partition of its topics is assigned to it), every partition paused
// until a read asks for it: seek, resume, hand each fetched batch over until the reader says
// it is done, pause again. Restores (changelogs up to a marker) and backfills (an input up to
// an offset) are built on it. kafkajs has no manual assignment, hence the group of one.

import type { Consumer, Kafka, KafkaMessage } from 'kafkajs'
import { OUTAGE_TOLERANT_CONSUMER } from '../../../ops/kafka-client.js'
import { type Logger, silentLogger } from '../../../ops/log.js'
import { removeMemberOnCrash } from '../../../ops/stale-member.js'
import { topicPartition } from './kafka-io.js'

export interface FetchedBatch {
  /** Committed data records (no control records, nothing aborted), from the read's offset on. */
  readonly messages: readonly KafkaMessage[]
  /**
   * The batch's last offset, control records and aborted records included: a read that ends
   * at an offset knows it is there even when only transaction markers stood before it.
   */
  readonly lastOffset: number
}

/** Handles one batch; resolves true once the read is complete. */
export type ReadStep = (batch: FetchedBatch) => Promise<boolean>

interface Reading {
  step: ReadStep
  /** Steps run one at a time: a filtered batch's notice may come while a step still runs. */
  turn: Promise<void>
  done(): void
  fail(err: unknown): void
}

export class PartitionReader {
  private readonly consumer: Consumer
  private readonly active = new Map<string, Reading>()
  private joined: Promise<void>

  constructor(
    kafka: Kafka,
    private readonly topics: readonly string[],
    groupId: string,
    log: Logger = silentLogger,
  ) {
    this.consumer = kafka.consumer({
      groupId,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      // A read waits on this consumer: do not let a fetch idle for long on paused partitions.
      maxWaitTimeInMs: 100,
      // As the runner's group consumer: rides out a broker outage in place.
      ...OUTAGE_TOLERANT_CONSUMER,
    })
    removeMemberOnCrash(kafka, this.consumer, groupId, log)
    this.joined = new Promise((resolve) => {
      this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
        // Nothing is read until a read asks for a partition.
        const idle = Object.entries(payload.memberAssignment).map(([topic, partitions]) => ({
          topic,
          partitions: partitions.filter((p) => !this.active.has(topicPartition(topic, p))),
        }))
        this.consumer.pause(idle)
        resolve()
      })
    })
    // kafkajs hands eachBatch no batch whose records were all filtered out (transaction
    // markers, aborted records); it says where such a batch ended here.
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.batchSize !== 0) return
      void this.handle(payload.topic, payload.partition, {
        messages: [],
        lastOffset: Number(payload.lastOffset),
      })
    })
  }

  async start(): Promise<void> {
    if (this.topics.length === 0) return
    await this.consumer.connect()
    await this.consumer.subscribe({ topics: [...this.topics], fromBeginning: true })
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        await this.handle(batch.topic, batch.partition, {
          messages: batch.messages,
          lastOffset: Number(batch.lastOffset()),
        })
      },
    })
    await this.joined
  }

  private handle(topic: string, partition: number, batch: FetchedBatch): Promise<void> {
    const reading = this.active.get(topicPartition(topic, partition))
    if (!reading) return Promise.resolve()
    reading.turn = reading.turn.then(async () => {
      if (this.active.get(topicPartition(topic, partition)) !== reading) return
      try {
        if (!(await reading.step(batch))) return
        this.finish(topic, partition, reading)
        reading.done()
      } catch (err) {
        this.finish(topic, partition, reading)
        reading.fail(err)
      }
    })
    return reading.turn
  }

  private finish(topic: string, partition: number, reading: Reading): void {
    const id = topicPartition(topic, partition)
    if (this.active.get(id) !== reading) return
    this.active.delete(id)
    this.consumer.pause([{ topic, partitions: [partition] }])
  }

  /**
   * Hands the partition's batches from `fromOffset` on to `step` until it says it is done
   * (or throws, or `signal` aborts). An offset retention deleted reads from the earliest.
   */
  read(
    topic: string,
    partition: number,
    fromOffset: number,
    step: ReadStep,
    signal?: AbortSignal,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const reading: Reading = { step, turn: Promise.resolve(), done: resolve, fail: reject }
      signal?.addEventListener(
        'abort',
        () => {
          this.finish(topic, partition, reading)
          reject(signal.reason)
        },
        { once: true },
      )
      if (signal?.aborted) return
      this.active.set(topicPartition(topic, partition), reading)
      this.consumer.seek({ topic, partition, offset: String(fromOffset) })
      this.consumer.resume([{ topic, partitions: [partition] }])
    })
  }

  async stop(): Promise<void> {
    if (this.topics.length === 0) return
    await this.consumer.disconnect()
  }
}
