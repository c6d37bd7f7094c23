// The gateway's feed of im.sync and im.rooms: a consumer group of its own (every gateway sees
// every partition: any of them may hold a user's devices), starting at the end of the log and
// never committing. A gateway that (re)starts holds no connections, so what came before it is for
// nobody; and envelopes skipped by a rebalance of its group are re-sent by the sync topology
// (unacked pushes go out again after the ack timeout); a large group's devices find a gap by
// its seq and pull it.
//
// start() resolves only once the consumer has joined and fetched: by then each partition's
// start offset is fixed, so an event for a device that logs in afterwards is not missed. A
// consumer kafkajs gives up on is replaced (ops/lasting-consumer.ts): the feed is never left
// down after a broker comes back.

import type { Kafka } from 'kafkajs'
import { ImflowError } from '../../ops/errors.js'
import { OUTAGE_TOLERANT_CONSUMER } from '../../ops/kafka-client.js'
import { type LastingConsumer, startLastingConsumer } from '../../ops/lasting-consumer.js'
import type { Logger } from '../../ops/log.js'
import type { EventCodec } from '../../schemas/codec.js'

/** A topic the feed reads, and what is done with each of its events. */
export interface FeedTopic {
  topic: string
  decode(bytes: Buffer): Promise<unknown>
  deliver(event: unknown): void
}

export function feedTopic<T>(
  topic: string,
  codec: EventCodec<T>,
  deliver: (event: T) => void,
): FeedTopic {
  return { topic, decode: (bytes) => codec.decode(bytes), deliver: (e) => deliver(e as T) }
}

export interface GatewayFeedOptions {
  kafka: Kafka
  topics: readonly FeedTopic[]
  groupId: string
  log: Logger
  /** How long start() waits for the group to join and position. */
  positionTimeoutMs?: number
}

/** Running once start resolved: whether its consumer is (healthy) and how to stop it. */
export type GatewayFeed = Pick<LastingConsumer, 'healthy' | 'stop'>

export async function startGatewayFeed(options: GatewayFeedOptions): Promise<GatewayFeed> {
  const { kafka, topics, groupId, log } = options
  const byTopic = new Map(topics.map((t) => [t.topic, t]))
  const names = topics.map((t) => t.topic).join(', ')
  const timeoutMs = options.positionTimeoutMs ?? 60_000
  const consumer = await startLastingConsumer({
    kafka,
    config: {
      ...OUTAGE_TOLERANT_CONSUMER,
      groupId,
      maxWaitTimeInMs: 100,
      allowAutoTopicCreation: false,
    },
    topics: [...byTopic.keys()],
    fromBeginning: false,
    // Committed in this group of its own only so that a consumer restarted after a crash
    // goes on where it was, not at the end (what a restarted gateway does).
    commitEveryMs: 1_000,
    run: {
      eachMessage: async ({ topic, partition, message }) => {
        const feed = byTopic.get(topic)
        if (!message.value || !feed) return
        let event: unknown
        try {
          event = await feed.decode(message.value)
        } catch (err) {
          // Not the gateway's to dead-letter: a topology wrote it; skip and say so.
          log.error('undecodable event', {
            topic,
            partition,
            offset: message.offset,
            error: String(err),
          })
          return
        }
        feed.deliver(event)
      },
    },
    log,
    what: `the push gateway (${names})`,
  })
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      consumer.firstFetch,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new ImflowError(
                'IMF_ERR_KAFKA_UNAVAILABLE',
                `the push gateway's consumer of ${names} did not join and position within ${timeoutMs} ms`,
              ),
            ),
          timeoutMs,
        )
      }),
    ])
  } catch (err) {
    await consumer.stop().catch(() => {})
    throw err
  } finally {
    clearTimeout(timer)
  }
  return consumer
}
