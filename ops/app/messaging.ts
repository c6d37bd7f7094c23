// The API's connection to Kafka: an idempotent producer for the events routes write, and the
// receipt waiter for POST /v1/messages.

import { randomBytes } from 'node:crypto'
import { type Kafka, Partitioners } from 'kafkajs'
import { geoHomes } from '../../connectors/http/home-client.js'
import type { Messaging } from '../../connectors/http/messaging.js'
import { kafkaPublisher } from '../../connectors/http/publisher.js'
import { ReceiptWaiter } from '../../connectors/http/receipt-waiter.js'
import type { ContractCodecs } from '../../schemas/contract.js'
import { topicName } from '../../schemas/topics.js'
import type { UserEvent } from '../../schemas/types.generated.js'
import type { Logger } from '../log.js'
import type { Config } from './config.js'

export async function startMessaging(
  config: Config,
  kafka: Kafka,
  codecs: ContractCodecs,
  log: Logger,
): Promise<{ routes: Messaging; stop(): Promise<void> }> {
  let jwtSecret = config.jwtSecret
  if (!jwtSecret) {
    jwtSecret = randomBytes(32).toString('hex')
    log.warn(
      'IMFLOW_JWT_SECRET is not set: API tokens are checked against a random secret, so none is valid',
    )
  }
  // Kafka's default (murmur2) partitioner: the one the API's store lookups assume.
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  })
  await producer.connect()
  const topic = (base: Parameters<typeof topicName>[1]) => topicName(config.topicPrefix, base)
  let receipts: ReceiptWaiter
  try {
    receipts = await ReceiptWaiter.start(kafka, topic('im.receipts'), codecs['im.receipts'], log)
  } catch (err) {
    await producer.disconnect()
    throw err
  }
  return {
    routes: {
      jwtSecret,
      codecs,
      topics: {
        ingest: topic('im.ingest'),
        conversations: topic('im.conversations'),
        users: topic('im.users'),
        actions: topic('im.actions'),
      },
      publisher: kafkaPublisher(producer),
      receipts,
      requestTimeoutMs: config.requestTimeoutMs,
      largeGroupThreshold: config.largeGroupThreshold,
      // The same bound as a device's Rebase, per conversation.
      catchUpLimit: config.syncRebaseThreshold,
      unitNames: { local: config.unit, remote: Object.keys(config.remoteUnits) },
      ...(Object.keys(config.remoteGeoUrls).length > 0
        ? { homes: geoHomes({ urls: config.remoteGeoUrls }) }
        : {}),
      ...(Object.keys(config.remoteUnitUrls).length > 0
        ? {
            units: {
              local: config.unit,
              urls: config.remoteUnitUrls,
              homes: geoHomes({ urls: config.remoteUnitUrls, kind: 'unit' }),
            },
          }
        : {}),
    },
    async stop() {
      await receipts.stop()
      await producer.disconnect()
    },
  }
}

/** What PUT /v1/users/:uid reads and writes: this instance's replica of im.users, every unit's topic. */
export function userHomes(
  config: Config,
  users: { get(userId: string): UserEvent | undefined },
): NonNullable<Messaging['users']> {
  return {
    current: (userId) => users.get(userId),
    geo: config.geo,
    // A home set here is every unit's: each hands the user's share to it.
    remoteTopics: Object.values(config.remoteUnits).map((p) => topicName(p, 'im.users')),
  }
}
