// A global table (Kafka Streams' GlobalKTable): every instance keeps a full replica of a
// small compacted topic, read from all partitions by a consumer group of its own, and
// answers point lookups locally. ready() resolves once the replica has caught up with the
// end of the topic as it was at start.

import { randomUUID } from 'node:crypto'
import type { Kafka } from 'kafkajs'
import { isImflowError } from '../../ops/errors.js'
import { OUTAGE_TOLERANT_CONSUMER } from '../../ops/kafka-client.js'
import { type LastingConsumer, startLastingConsumer } from '../../ops/lasting-consumer.js'
import { type Logger, silentLogger } from '../../ops/log.js'

export class GlobalTable<V> {
  private constructor(
    private readonly consumer: LastingConsumer,
    private readonly entries: Map<string, V>,
  ) {}

  static async start<V>(
    kafka: Kafka,
    topic: string,
    decode: (bytes: Buffer) => V | Promise<V>,
    keyOf: (value: V) => string,
    log: Logger = silentLogger,
  ): Promise<GlobalTable<V>> {
    const admin = kafka.admin()
    await admin.connect()
    const ends = new Map(
      (await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]),
    )
    await admin.disconnect()
    const groupId = `imflow-global-${randomUUID()}`
    const entries = new Map<string, V>()
    const behind = new Set([...ends].filter(([, end]) => end > 0).map(([p]) => p))
    let caughtUp: () => void = () => {}
    const ready = new Promise<void>((resolve) => {
      caughtUp = resolve
      if (behind.size === 0) resolve()
    })
    // A consumer kafkajs gives up on is replaced; never committing, the new one reads the
    // topic from the beginning again, which puts the same entries in place.
    const consumer = await startLastingConsumer({
      kafka,
      config: { ...OUTAGE_TOLERANT_CONSUMER, groupId, maxWaitTimeInMs: 100 },
      topics: [topic],
      fromBeginning: true,
      run: {
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          for (const message of batch.messages) {
            if (!message.value) {
              if (message.key) entries.delete(message.key.toString())
              continue
            }
            try {
              const value = await decode(message.value)
              entries.set(message.key?.toString() ?? keyOf(value), value)
            } catch (err) {
              // The registry is down: the batch is read again (kafkajs retries it), or the
              // update would be missing from this replica for good.
              if (isImflowError(err) && err.retriable) throw err
              // An undecodable record changes nothing here; a topology reading the topic
              // dead-letters it (the receiver, for im.users).
            }
          }
          if (Number(batch.lastOffset()) + 1 >= (ends.get(batch.partition) ?? 0)) {
            behind.delete(batch.partition)
            if (behind.size === 0) caughtUp()
          }
        },
      },
      log,
      what: `the global table of ${topic}`,
    })
    await ready
    return new GlobalTable<V>(consumer, entries)
  }

  get(key: string): V | undefined {
    return this.entries.get(key)
  }

  async stop(): Promise<void> {
    await this.consumer.stop()
  }
}
