// The one place a kafkajs client is built, so every part logs and retries the same way.

import { Kafka, type LogEntry, logLevel } from 'kafkajs'
import type { Logger } from './log.js'

export function createKafka(brokers: readonly string[], clientId: string, log: Logger): Kafka {
  const kafkaLog = log.child('kafkajs')
  return new Kafka({
    clientId,
    brokers: [...brokers],
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...fields } = entry
        // Expected while a transaction coordinator completes the previous commit; retried.
        if (
          /concurrent operation on the same transaction/.test(`${message} ${fields.error ?? ''}`)
        ) {
          kafkaLog.debug(message, fields)
        } else if (level <= logLevel.ERROR) kafkaLog.error(message, fields)
        else kafkaLog.warn(message, fields)
      },
  })
}
