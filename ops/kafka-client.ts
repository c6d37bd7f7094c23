// The one place a kafkajs client is built, so every part logs and retries the same way.

// Before kafkajs, when nothing loaded it yet (the entry points import it first anyway).
import './kafkajs-fixes.js'
import './kafkajs-coordinator-cache.js'
import { Kafka, type LogEntry, logLevel } from 'kafkajs'
import { kafkajsFixesMissing } from './kafkajs-fixes.js'
import type { Logger } from './log.js'

/**
 * Settings of a consumer that must ride out a broker outage in place. kafkajs' default
 * backoff grows to 30 s, so a consumer could sleep that long after the broker is back; capped
 * at 1 s it is back within seconds. And it must not give up during the outage: a consumer
 * kafkajs restarts after its retries ran out is a new group member, and the coordinator (its
 * group state reloaded with the broker) waits for the old member's session to expire before
 * it assigns anything: kafkajs' default 30 s session was the 30 s sends waited after a broker
 * restart. 300 retries is five minutes of patience; a 10 s session (the Java consumer's
 * before Kafka 3.0) bounds the wait should a member be replaced anyway.
 */
export const OUTAGE_TOLERANT_CONSUMER = {
  retry: { initialRetryTime: 100, maxRetryTime: 1_000, retries: 300 },
  sessionTimeout: 10_000,
  rebalanceTimeout: 10_000,
  heartbeatInterval: 1_000,
} as const

let warnedUnfixed = false

export function createKafka(brokers: readonly string[], clientId: string, log: Logger): Kafka {
  const kafkaLog = log.child('kafkajs')
  const missing = kafkajsFixesMissing()
  if (missing.length > 0 && !warnedUnfixed) {
    warnedUnfixed = true
    kafkaLog.error(
      `kafkajs was loaded before ops/kafkajs-fixes.ts (${missing.join('; ')}): import that module first in the entry point`,
    )
  }
  return new Kafka({
    clientId,
    brokers: [...brokers],
    logLevel: logLevel.WARN,
    // kafkajs' default backoff grows to 30 s (5 retries, ~9 s in all): after a broker restart
    // a client could wait that long before trying again. Each wait capped at 2 s, with more
    // patience in all (~16 s: a fresh broker's coordinators take seconds to load).
    retry: { initialRetryTime: 300, maxRetryTime: 2_000, retries: 10 },
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...fields } = entry
        // kafkajs logs every error response of a connection, also the ones it retries (a
        // coordinator still loading, a leader moving, a transaction finishing): the caller
        // reports what finally fails, so these are details.
        // Likewise a send that fails and is retried (a transaction still committing answers
        // CONCURRENT_TRANSACTIONS), and the warning that bounded retries may break idempotence:
        // a task's transaction aborts and is redone when its send finally fails.
        const retried = message.startsWith('Failed to send messages') && 'retryTime' in fields
        if (message.startsWith('Response ') || retried || message.startsWith('Limiting retries'))
          kafkaLog.debug(message, fields)
        else if (level <= logLevel.ERROR) kafkaLog.error(message, fields)
        else kafkaLog.warn(message, fields)
      },
  })
}
