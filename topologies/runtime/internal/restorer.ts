// Restores task stores from their changelog partitions. One restore consumer per running
// topology (its own group, so every changelog partition is assigned to it); partitions stay
// paused until a task asks for one: seek, resume, apply records until the task's marker
// arrives, pause again.

import type { Consumer, Kafka } from 'kafkajs'
import { OUTAGE_TOLERANT_CONSUMER } from '../../../ops/kafka-client.js'
import { type Logger, silentLogger } from '../../../ops/log.js'
import { removeMemberOnCrash } from '../../../ops/stale-member.js'
import type { WriteOp } from '../../../state/index.js'
import { DATA, MARKER } from '../changelog.js'
import { topicPartition } from './kafka-io.js'

interface Restoration {
  marker: Buffer
  apply(ops: WriteOp[]): Promise<void>
  restored: number
  done(endOffset: number): void
  fail(err: unknown): void
}

export interface RestoreResult {
  /** Records applied to the store. */
  readonly records: number
  /** The changelog offset after the marker: where a later restore may start. */
  readonly endOffset: number
}

export class Restorer {
  private readonly consumer: Consumer
  private readonly active = new Map<string, Restoration>()
  private assigned: Record<string, number[]> = {}
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
      // A restore waits on this consumer: do not let a fetch idle for long on paused partitions.
      maxWaitTimeInMs: 100,
      // As the runner's group consumer: rides out a broker outage in place.
      ...OUTAGE_TOLERANT_CONSUMER,
    })
    removeMemberOnCrash(kafka, this.consumer, groupId, log)
    this.joined = new Promise((resolve) => {
      this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
        this.assigned = payload.memberAssignment
        // Nothing is read until a task asks for a partition.
        const idle = Object.entries(this.assigned).map(([topic, partitions]) => ({
          topic,
          partitions: partitions.filter((p) => !this.active.has(topicPartition(topic, p))),
        }))
        this.consumer.pause(idle)
        resolve()
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
        const restoration = this.active.get(topicPartition(batch.topic, batch.partition))
        if (!restoration) return
        try {
          const ops: WriteOp[] = []
          let markerOffset: number | undefined
          for (const m of batch.messages) {
            const key = m.key
            if (!key || key.length === 0) continue
            if (key[0] === DATA) ops.push({ key: key.subarray(1), value: m.value })
            else if (key[0] === MARKER && key.equals(restoration.marker)) {
              markerOffset = Number(m.offset)
              break
            }
          }
          await restoration.apply(ops)
          restoration.restored += ops.length
          if (markerOffset !== undefined) {
            this.active.delete(topicPartition(batch.topic, batch.partition))
            this.consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }])
            restoration.done(markerOffset + 1)
          }
        } catch (err) {
          this.active.delete(topicPartition(batch.topic, batch.partition))
          restoration.fail(err)
        }
      },
    })
    await this.joined
  }

  /** Applies the partition's records from `fromOffset` up to `marker` (which must be committed). */
  restore(
    topic: string,
    partition: number,
    fromOffset: number,
    marker: Buffer,
    apply: (ops: WriteOp[]) => Promise<void>,
  ): Promise<RestoreResult> {
    return new Promise<RestoreResult>((resolve, reject) => {
      const restoration: Restoration = {
        marker,
        apply,
        restored: 0,
        done: (endOffset) => resolve({ records: restoration.restored, endOffset }),
        fail: reject,
      }
      this.active.set(topicPartition(topic, partition), restoration)
      this.consumer.seek({ topic, partition, offset: String(fromOffset) })
      this.consumer.resume([{ topic, partitions: [partition] }])
    })
  }

  async stop(): Promise<void> {
    if (this.topics.length === 0) return
    await this.consumer.disconnect()
  }
}
