// The gateway's feed of im.sync: a consumer group of its own (every gateway sees every
// partition: any of them may hold a user's devices), starting at the end of the log and never
// committing. A gateway that (re)starts holds no connections, so what came before it is for
// nobody; and envelopes skipped by a rebalance of its group are re-sent by the sync topology
// (unacked pushes go out again after the ack timeout).
//
// start() resolves only once the consumer has joined and fetched: by then each partition's
// start offset is fixed, so an envelope for a device that logs in afterwards is not missed.

import type { Consumer, Kafka } from 'kafkajs'
import { ImflowError } from '../../ops/errors.js'
import type { Logger } from '../../ops/log.js'
import type { EventCodec } from '../../schemas/codec.js'
import type { SyncEnvelope } from '../../schemas/types.generated.js'

export interface SyncFeedOptions {
  kafka: Kafka
  topic: string
  groupId: string
  codec: EventCodec<SyncEnvelope>
  deliver(envelope: SyncEnvelope): void
  log: Logger
  /** How long start() waits for the group to join and position. */
  positionTimeoutMs?: number
}

export interface SyncFeed {
  /** False once the consumer crashed for good. */
  healthy(): boolean
  stop(): Promise<void>
}

export async function startSyncFeed(options: SyncFeedOptions): Promise<SyncFeed> {
  const { kafka, topic, groupId, codec, deliver, log } = options
  const timeoutMs = options.positionTimeoutMs ?? 60_000
  const consumer: Consumer = kafka.consumer({
    groupId,
    maxWaitTimeInMs: 100,
    allowAutoTopicCreation: false,
  })
  let healthy = true
  let failStart: ((err: unknown) => void) | undefined
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (payload.restart) return
    healthy = false
    log.error('the im.sync consumer stopped', { error: String(payload.error) })
    failStart?.(payload.error)
  })
  const positioned = new Promise<void>((resolve, reject) => {
    failStart = reject
    const off = consumer.on(consumer.events.FETCH, () => {
      off()
      resolve()
    })
  })
  positioned.catch(() => {}) // awaited below; a crash before that is not unhandled
  let timer: NodeJS.Timeout | undefined
  try {
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: false })
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message, partition }) => {
        if (!message.value) return
        let envelope: SyncEnvelope
        try {
          envelope = await codec.decode(message.value)
        } catch (err) {
          // Not the gateway's to dead-letter: the sync topology wrote it; skip and say so.
          log.error('undecodable sync envelope', {
            partition,
            offset: message.offset,
            error: String(err),
          })
          return
        }
        deliver(envelope)
      },
    })
    await Promise.race([
      positioned,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new ImflowError(
                'IMF_ERR_KAFKA_UNAVAILABLE',
                `the push gateway's consumer of ${topic} did not join and position within ${timeoutMs} ms`,
              ),
            ),
          timeoutMs,
        )
      }),
    ])
  } catch (err) {
    await consumer.disconnect().catch(() => {})
    throw err
  } finally {
    clearTimeout(timer)
    failStart = undefined
  }
  return {
    healthy: () => healthy,
    stop: () => consumer.disconnect(),
  }
}
