// Repartitioning: a conversation-keyed topology hands each recipient to an internal topic
// keyed by user; a user-keyed topology downstream counts per user. Every user's records
// reach one task, in order, exactly once.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { silentLogger } from '../../ops/log.js'
import { int64Serde, stringSerde, typedStore } from '../../state/index.js'
import { defineTopology, startTopology } from '../../topologies/runtime/index.js'
import { testKafka, unique, withAdmin } from './helpers.js'
import { expectExactCounts, readCounts, testScope, waitForConsumed } from './runtime-support.js'

describe('runtime: repartition', () => {
  const kafka = testKafka()
  const app = unique('rep-app')
  const messages = unique('rep-messages')
  const byUser = `${app}-by-user-repartition`
  const counts = unique('rep-counts')
  let stateDir: string

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'imflow-rep-'))
    await withAdmin((admin) =>
      createTopicsAndWait(
        admin,
        [messages, counts].map((topic) => ({ topic, numPartitions: 3 })),
      ),
    )
  })
  afterAll(async () => {
    await rm(stateDir, { recursive: true, force: true })
  })

  it('moves records from conversation keys to user keys through an internal topic', {
    timeout: 120_000,
  }, async () => {
    const fanOut = defineTopology({
      name: 'fan-out',
      sources: [{ topic: messages }],
      sinks: { byUser: { topic: byUser, partitionBy: 'key' } },
      internalTopics: [byUser],
      processor: (context) => ({
        process(record) {
          for (const user of String(record.value).split(',')) {
            context.send('byUser', { key: user, value: record.key })
          }
        },
      }),
    })
    const perUser = defineTopology({
      name: 'per-user',
      sources: [{ topic: byUser }],
      sinks: { counts: { topic: counts, partitionBy: 'task' } },
      stores: ['received'],
      processor: (context) => {
        const received = typedStore(context.store('received'), stringSerde, int64Serde)
        return {
          async process(record) {
            const user = record.key?.toString() ?? ''
            const n = ((await received.get(user)) ?? 0) + 1
            received.put(user, n)
            context.send('counts', { key: user, value: Buffer.from(String(n)) })
          },
        }
      },
    })
    const options = {
      kafka,
      appId: app,
      transactionScope: testScope(),
      stateDir,
      log: silentLogger,
      sessionTimeoutMs: 6_000,
    }
    const upstream = await startTopology(fanOut, options)
    const downstream = await startTopology(perUser, options)

    const expected = new Map<string, number>()
    const producer = kafka.producer()
    await producer.connect()
    const records = Array.from({ length: 600 }, (_, i) => {
      const members = [`u${i % 7}`, `u${(i * 3) % 11}`, `u${(i * 5) % 13}`]
      for (const m of members) expected.set(m, (expected.get(m) ?? 0) + 1)
      return { key: `conv-${i % 40}`, value: members.join(',') }
    })
    await producer.send({ topic: messages, messages: records })
    await producer.disconnect()
    const total = [...expected.values()].reduce((a, b) => a + b, 0)
    let seen: Map<string, number[]>
    try {
      seen = await readCounts(kafka, counts, unique('rep-reader'), total)
      // The downstream group consumed the repartition topic to its end, markers included.
      await waitForConsumed(kafka, `${app}-per-user`, byUser, 60_000)
    } finally {
      await upstream.stop()
      await downstream.stop()
    }
    expectExactCounts(seen, expected)
  })
})
