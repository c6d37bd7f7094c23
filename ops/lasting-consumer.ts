// A consumer that stays up. kafkajs starts a consumer again after an error it retries, but
// gives up on it after one it does not (no group coordinator while a broker comes back, a
// handler's own error): the consumer is stopped for good, and whatever it fed (the push
// gateway's feed, the API's receipts, a global table) goes quiet while /readyz may still say
// ready. Here a new consumer of the same group takes over, after a backoff, and goes on from
// the group's committed offsets (or its subscription's start, for groups that never commit).

import type { Consumer, ConsumerConfig, ConsumerRunConfig, Kafka } from 'kafkajs'
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

  const launch = async (): Promise<Consumer> => {
    const c = kafka.consumer(config)
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
      await c.run(options.run)
    } catch (err) {
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
      await current?.disconnect().catch(() => {})
      current = undefined
      try {
        const c = await launch()
        if (stopping) await c.disconnect().catch(() => {})
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
      await current?.disconnect()
    },
  }
}
