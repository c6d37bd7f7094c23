// Regression: batches of two co-partitioned source topics for the same partition arrive in
// one fetch and run concurrently; both used to find no task and open it twice, and RocksDB's
// lock refused the second ("lock hold by current process"), crashing the consumer.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { silentLogger } from '../../ops/log.js'
import { defineTopology, startTopology } from '../../topologies/runtime/index.js'
import { eventually, unique, withAdmin } from './helpers.js'

describe('runtime: one task per partition across source topics', () => {
  const left = unique('race-left')
  const right = unique('race-right')
  const app = unique('race-app')
  let stateDir: string

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'imflow-race-'))
    await withAdmin((admin) =>
      createTopicsAndWait(
        admin,
        [left, right].map((topic) => ({ topic, numPartitions: 2 })),
      ),
    )
  })
  afterAll(() => rm(stateDir, { recursive: true, force: true }))

  it('opens the task once when both topics have records waiting', { timeout: 60_000 }, async () => {
    const errors: string[] = []
    const kafka = new Kafka({
      clientId: unique('race'),
      brokers: inject('kafkaBrokers'),
      logLevel: logLevel.ERROR,
      logCreator: () => (entry) => {
        errors.push(`${entry.log.message} ${String(entry.log.stack ?? '')}`)
      },
    })
    const producer = kafka.producer()
    await producer.connect()
    for (const topic of [left, right]) {
      await producer.send({
        topic,
        messages: Array.from({ length: 200 }, (_, i) => ({ partition: i % 2, value: String(i) })),
      })
    }
    await producer.disconnect()
    let processed = 0
    const running = await startTopology(
      defineTopology({
        name: 'race',
        sources: [{ topic: left }, { topic: right }],
        stores: ['seen'],
        processor: (context) => ({
          process(record) {
            context
              .store('seen')
              .put(Buffer.from(`${record.topic}:${record.offset}`), Buffer.from('1'))
            processed++
          },
        }),
      }),
      { kafka, appId: app, stateDir, log: silentLogger },
    )
    try {
      await eventually(() => (processed >= 400 ? true : undefined), {
        what: 'both topics processed',
      })
    } finally {
      await running.stop()
    }
    expect(errors.filter((e) => /lock|eachBatch/i.test(e))).toEqual([])
  })
})
