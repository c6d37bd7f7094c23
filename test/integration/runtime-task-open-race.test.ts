// Regression: batches of two co-partitioned source topics for the same partition arrive in
// one fetch and run concurrently; both used to find no task and open it twice, and RocksDB's
// lock refused the second ("lock hold by current process"), crashing the consumer.

import { Kafka, logLevel } from 'kafkajs'
import { describe, expect, inject, it } from 'vitest'
import { silentLogger } from '../../ops/log.js'
import { defineTopology, startTopology } from '../../topologies/runtime/index.js'
import { eventually, unique } from './helpers.js'
import { scratchState, testScope } from './runtime-support.js'

describe('runtime: one task per partition across source topics', () => {
  const left = unique('race-left')
  const right = unique('race-right')
  const app = unique('race-app')
  const state = scratchState('race', { [left]: 2, [right]: 2 })

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
      { kafka, appId: app, transactionScope: testScope(), stateDir: state.dir, log: silentLogger },
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
