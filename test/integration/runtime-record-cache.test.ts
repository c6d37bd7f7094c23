// The record cache, on the real broker: with transactions spanning slices (a commit
// interval), repeated updates of a key between commits reach the changelog once; with the
// cache at 0 bytes, every update does. Either way every count comes out exactly 1..n, and a
// new instance restored from the changelog holds the final counts.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Kafka } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { countTopology } from '../../bench/count-topology.js'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { silentLogger } from '../../ops/log.js'
import { int64Serde } from '../../state/index.js'
import { startTopology } from '../../topologies/runtime/index.js'
import { eventually, testKafka, unique, withAdmin } from './helpers.js'
import {
  expectExactCounts,
  produceKeyed,
  readCounts,
  testScope,
  waitForConsumed,
} from './runtime-support.js'

const RECORDS = 10_000
const KEYS = 20

/** Data records (not restore markers) in a changelog, read_committed. */
async function changelogRecords(kafka: Kafka, topic: string): Promise<number> {
  const ends = await withAdmin((admin) => admin.fetchTopicOffsets(topic))
  let data = 0
  let last = -1
  const consumer = kafka.consumer({ groupId: unique('changelog-reader'), readUncommitted: false })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (message.key?.[0] === 0) data++
      last = Math.max(last, Number(message.offset))
    },
  })
  try {
    // The last offsets of a transactional log are commit markers, never delivered: wait a moment.
    const high = Math.max(...ends.map((e) => Number(e.high)))
    await eventually(() => (last >= high - 3 ? true : undefined), { timeoutMs: 30_000 })
    await new Promise((r) => setTimeout(r, 1_000))
  } finally {
    await consumer.disconnect()
  }
  return data
}

describe('runtime: the record cache', () => {
  const kafka = testKafka()
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'imflow-cache-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  const run = async (name: string, cacheMaxBytes: number) => {
    const [input, output, app] = [`${name}-in`, `${name}-out`, `${name}-app`].map(unique) as [
      string,
      string,
      string,
    ]
    await withAdmin((admin) =>
      createTopicsAndWait(admin, [
        { topic: input, numPartitions: 1 },
        { topic: output, numPartitions: 1 },
      ]),
    )
    const expected = await produceKeyed(kafka, input, RECORDS, KEYS)
    const options = {
      kafka,
      appId: app,
      transactionScope: testScope(),
      log: silentLogger,
      commitIntervalMs: 1_000,
      cacheMaxBytes,
    }
    const running = await startTopology(countTopology(input, output), {
      ...options,
      stateDir: join(dir, `${name}-1`),
    })
    try {
      await waitForConsumed(kafka, `${app}-count`, input, 120_000)
    } finally {
      await running.stop()
    }
    const counts = await readCounts(kafka, output, unique('cache-reader'), RECORDS)
    expectExactCounts(counts, expected)

    // A new instance, from the changelog alone.
    const restored = await startTopology(countTopology(input, output), {
      ...options,
      stateDir: join(dir, `${name}-2`),
    })
    try {
      const store = await eventually(() => restored.committedStore(0, 'counts'))
      for (const [key, n] of expected) {
        const value = await store.get(Buffer.from(key))
        expect(value && int64Serde.deserialize(value), key).toBe(n)
      }
    } finally {
      await restored.stop()
    }
    return changelogRecords(kafka, `${app}-count-counts-changelog`)
  }

  it('merges a key’s updates between commits; without a cache, every update is logged', {
    timeout: 300_000,
  }, async () => {
    const cached = await run('cached', 10 * 1024 * 1024)
    const uncached = await run('uncached', 0)
    expect(uncached).toBe(RECORDS)
    // 20 keys, 10,000 updates: a few hundred changelog records, one per key per transaction.
    expect(cached).toBeLessThan(RECORDS / 5)
    expect(cached).toBeGreaterThanOrEqual(KEYS)
  })
})
