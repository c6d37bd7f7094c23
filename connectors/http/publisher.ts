// How API routes write events: a narrow interface over an idempotent kafkajs producer.

import type { Producer } from 'kafkajs'

export interface PublishedRecord {
  key: string
  value: Buffer
  headers?: Record<string, string>
}

export interface Publisher {
  publish(topic: string, records: readonly PublishedRecord[]): Promise<void>
}

export function kafkaPublisher(producer: Producer): Publisher {
  return {
    async publish(topic, records) {
      await producer.send({ topic, acks: -1, messages: records.map((r) => ({ ...r })) })
    },
  }
}
