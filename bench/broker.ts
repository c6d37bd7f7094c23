// What every broker benchmark needs: a broker (KAFKA_BROKERS, or an embedded one started
// for the run), a warmed-up cluster, and bounded waits.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Admin, Kafka, logLevel } from 'kafkajs'
import { startEmbeddedKafka } from '../ops/embedded/embedded-kafka.js'
import { createLogger, type Logger } from '../ops/log.js'
import { freePort } from '../ops/ports.js'

export interface BenchBroker {
  kafka: Kafka
  /** Its bootstrap servers, for processes of their own. */
  brokers: string[]
  admin: Admin
  /** A scratch folder for state stores, removed afterwards. */
  dir: string
  quiet: Logger
  /** A name unique to this run. */
  run: string
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('benchmark timed out')
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** High watermarks summed over a topic's partitions: how many offsets it holds. */
export async function topicEnds(admin: Admin, topic: string): Promise<number> {
  return (await admin.fetchTopicOffsets(topic)).reduce((s, p) => s + Number(p.high), 0)
}

/** Records of the topic the group has committed, over all partitions. */
export async function committed(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] })
  return (offsets?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0)
}

/**
 * Writes `count` records to `topic` in sends of 10,000, keyed `user-<i mod keys>`, as the
 * runtime benches' input.
 */
export async function fillKeyed(
  kafka: Kafka,
  topic: string,
  count: number,
  keys: number,
  value: (i: number) => string,
): Promise<void> {
  const producer = kafka.producer()
  await producer.connect()
  try {
    for (let start = 0; start < count; start += 10_000) {
      await producer.send({
        topic,
        messages: Array.from({ length: Math.min(10_000, count - start) }, (_, i) => ({
          key: `user-${(start + i) % keys}`,
          value: value(start + i),
        })),
      })
    }
  } finally {
    await producer.disconnect()
  }
}

/** A fresh broker creates __consumer_offsets and __transaction_state on first use: do that before any clock starts. */
async function warmUp(kafka: Kafka, run: string): Promise<void> {
  const producer = kafka.producer({
    transactionalId: `${run}-warmup`,
    idempotent: true,
    maxInFlightRequests: 1,
  })
  await producer.connect()
  const txn = await producer.transaction()
  await txn.commit()
  await producer.disconnect()
  const admin = kafka.admin()
  await admin.connect()
  await admin.fetchOffsets({ groupId: `${run}-warmup`, topics: [] }).catch(() => {})
  await admin.disconnect()
}

export async function withBroker<T>(work: (broker: BenchBroker) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'imflow-bench-'))
  const quiet = createLogger('warn')
  const embedded = process.env.KAFKA_BROKERS
    ? undefined
    : await startEmbeddedKafka({ port: await freePort(), dataDir: join(dir, 'kafka'), log: quiet })
  const brokers = process.env.KAFKA_BROKERS?.split(',') ?? embedded?.brokers ?? []
  // kafkajs logs the protocol errors it retries (a fresh topic's leader not yet known) in
  // among the figures; a real failure shows as the benchmark's own error or timeout.
  const kafka = new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  const run = `bench-${Date.now().toString(36)}`
  try {
    await warmUp(kafka, run)
    return await work({ kafka, brokers, admin, dir, quiet, run })
  } finally {
    await admin.disconnect()
    await embedded?.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
