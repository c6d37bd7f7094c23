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
        if (level <= logLevel.ERROR) kafkaLog.error(message, fields)
        else kafkaLog.warn(message, fields)
      },
  })
}
