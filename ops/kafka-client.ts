// The one place a kafkajs client is built, so every part logs and retries the same way.

import { Kafka, type LogEntry, logLevel } from 'kafkajs'
import type { Logger } from './log.js'

export function createKafka(brokers: readonly string[], clientId: string, log: Logger): Kafka {
  const kafkaLog = log.child('kafkajs')
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
