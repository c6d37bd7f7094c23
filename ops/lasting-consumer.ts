// A consumer that stays up. kafkajs starts a consumer again after an error it retries, but
// gives up on it after one it does not (no group coordinator while a broker comes back, a
// handler's own error): the consumer is stopped for good, and whatever it fed (the push
// gateway's feed, the API's receipts, a global table) goes quiet while /readyz may still say
// ready. Here a new consumer of the same group takes over, after a backoff, and goes on from
// the group's committed offsets (or its subscription's start, for groups that never commit).
//
// commitEveryMs: kafkajs 2.2.4's autoCommit commits at the end of every batch, whatever its
// autoCommitInterval (runner.js: autoCommitOffsets() after each batch): an OffsetCommit round
// trip before every next fetch, ~100 requests/s to the broker from the gateway and the API's
// receipts at 50 messages/s. With commitEveryMs the position is committed on a timer instead
// (and at stop), for the groups of one member these consumers use.

import type {
  Consumer,
  ConsumerConfig,
  ConsumerRunConfig,
  Kafka,
  TopicPartitionOffset,
} from 'kafkajs'
import type { Logger } from './log.js'
import { removeMemberOnCrash } from './stale-member.js'

/** A consumer kafkajs gave up on is replaced after this long, doubling up to the max. */
const REPLACE_DELAY_MS = { first: 500, max: 10_000 }

export interface LastingConsumerOptions {
  kafka: Kafka
  config: ConsumerConfig
  topics: readonly string[]
  fromBeginning: boolean
  run: ConsumerRunConfig
  log: Logger
  /** What the consumer is for, in the log. */
  what: string
  /** Commit the position this often (run.eachMessage only; a group of one member), not per batch. */
  commitEveryMs?: number
}

export interface LastingConsumer {
  /** False from a crash kafkajs gave up on until the replacement's first fetch. */
  healthy(): boolean
  /** The first fetch of the first consumer (its start offsets are fixed from then on). */
  readonly firstFetch: Promise<void>
  stop(): Promise<void>
}

/** Connects, subscribes and runs the first consumer; resolves once it runs. */
export async function startLastingConsumer(
  options: LastingConsumerOptions,
): Promise<LastingConsumer> {
  const { kafka, config, log, what } = options
  let current: Consumer | undefined
  let health = true
  let stopping = false
  let delay = REPLACE_DELAY_MS.first
  let fetched: () => void = () => {}
  const firstFetch = new Promise<void>((resolve) => {
    fetched = resolve
  })

  const committers = new WeakMap<Consumer, PeriodicCommits>()
  /** Disconnects, after committing what its timer has not yet. */
  const close = async (c: Consumer | undefined): Promise<void> => {
    if (!c) return
    await committers.get(c)?.stop()
    await c.disconnect()
  }

  const launch = async (): Promise<Consumer> => {
    const c = kafka.consumer(config)
    const commits = options.commitEveryMs
      ? periodicCommits(c, options.commitEveryMs, log)
      : undefined
    if (commits) committers.set(c, commits)
    removeMemberOnCrash(kafka, c, config.groupId, log)
    c.on(c.events.FETCH, () => {
      health = true
      fetched()
    })
    c.on(c.events.CRASH, ({ payload }) => {
      // restart: kafkajs starts it again itself (an error it retries).
      if (payload.restart || stopping || c !== current) return
      health = false
      replace(payload.error)
    })
    try {
      await c.connect()
      await c.subscribe({ topics: [...options.topics], fromBeginning: options.fromBeginning })
      await c.run(commits ? commits.wrap(options.run) : options.run)
    } catch (err) {
      await commits?.stop()
      await c.disconnect().catch(() => {})
      throw err
    }
    return c
  }

  const replace = (error: unknown): void => {
    if (stopping) return
    log.error(`the consumer of ${what} stopped; starting a new one`, {
      error: String(error),
      inMs: delay,
    })
    setTimeout(async () => {
      if (stopping) return
      await close(current).catch(() => {})
      current = undefined
      try {
        const c = await launch()
        if (stopping) await close(c).catch(() => {})
        else current = c
        delay = REPLACE_DELAY_MS.first
      } catch (err) {
        delay = Math.min(REPLACE_DELAY_MS.max, delay * 2)
        replace(err)
      }
    }, delay).unref()
  }

  current = await launch()
  return {
    healthy: () => health,
    firstFetch,
    stop: async () => {
      stopping = true
      await close(current)
    },
  }
}

interface PeriodicCommits {
  /** The run config with autoCommit off and each handled message's next offset kept. */
  wrap(run: ConsumerRunConfig): ConsumerRunConfig
  /** Stops the timer and commits what it has not yet. */
  stop(): Promise<void>
}

function periodicCommits(consumer: Consumer, everyMs: number, log: Logger): PeriodicCommits {
  const positions = new Map<string, TopicPartitionOffset>()
  let pending = false
  const commit = async () => {
    if (!pending) return
    pending = false
    try {
      await consumer.commitOffsets([...positions.values()])
    } catch (err) {
      // A rebalance or a coordinator moving: the next tick commits again.
      pending = true
      log.debug('committing the consumer position failed; again at the next tick', {
        error: String(err),
      })
    }
  }
  const timer = setInterval(() => void commit(), everyMs)
  timer.unref()
  return {
    wrap(run) {
      const each = run.eachMessage
      if (!each) throw new Error('commitEveryMs needs run.eachMessage')
      return {
        ...run,
        autoCommit: false,
        eachMessage: async (payload) => {
          try {
            await each(payload)
          } catch (err) {
            // What kafkajs' autoCommit does before the error stops the consumer: a replacement
            // goes on from the failed message, not from the last tick.
            await commit()
            throw err
          }
          const { topic, partition, message } = payload
          positions.set(`${topic}:${partition}`, {
            topic,
            partition,
            offset: (BigInt(message.offset) + 1n).toString(),
          })
          pending = true
        },
      }
    },
    async stop() {
      clearInterval(timer)
      await commit()
    },
  }
}
