// Transactions bounded in bytes, on the real broker: slices whose outputs and changelog
// records sum far past the broker's 1 MB message.max.bytes go through (several produce
// requests per transaction), and an output too large for any batch is dead-lettered with
// IMF_ERR_RECORD_TOO_LARGE instead of failing the transaction again and again.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { silentLogger } from '../../ops/log.js'
import { defineTopology, startTopology } from '../../topologies/runtime/index.js'
import { eventually, testKafka, unique, withAdmin } from './helpers.js'
import { testScope, waitForConsumed } from './runtime-support.js'

const RECORDS = 200
const OUTPUT_BYTES = 30_000
const STORE_BYTES = 20_000

describe('runtime: output batches bounded in bytes', () => {
  const kafka = testKafka()
  const [input, output, dlq, app] = ['big-in', 'big-out', 'big-dlq', 'big-app'].map(unique) as [
    string,
    string,
    string,
    string,
  ]
  let stateDir: string

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'imflow-big-'))
    await withAdmin((admin) =>
      createTopicsAndWait(
        admin,
        [input, output, dlq].map((topic) => ({ topic, numPartitions: 1 })),
      ),
    )
  })
  afterAll(async () => {
    await rm(stateDir, { recursive: true, force: true })
  })

  it(`commits ${RECORDS} records of ${(OUTPUT_BYTES + STORE_BYTES) / 1000} kB each, and dead-letters a 2 MB output`, {
    timeout: 180_000,
  }, async () => {
    const topology = defineTopology({
      name: 'big',
      sources: [{ topic: input }],
      sinks: { out: { topic: output, partitionBy: 'task' } },
      stores: ['blobs'],
      processor: (context) => ({
        process(record) {
          const key = record.key?.toString() ?? ''
          const n = Number(record.offset) % 256
          if (key === 'huge') {
            context.send('out', { key, value: Buffer.alloc(2_000_000, n) })
            return
          }
          context.store('blobs').put(Buffer.from(key), Buffer.alloc(STORE_BYTES, n))
          context.send('out', { key, value: Buffer.alloc(OUTPUT_BYTES, n) })
        },
      }),
    })
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({
      topic: input,
      messages: Array.from({ length: RECORDS }, (_, i) => ({
        key: i === 100 ? 'huge' : `k${i}`,
        value: String(i),
      })),
    })
    await producer.disconnect()

    const running = await startTopology(topology, {
      kafka,
      appId: app,
      transactionScope: testScope(),
      stateDir,
      log: silentLogger,
      deadLetters: {
        topic: dlq,
        encode: (letter) =>
          Buffer.from(JSON.stringify({ code: letter.errorCode, key: String(letter.key) })),
      },
    })
    try {
      await waitForConsumed(kafka, `${app}-big`, input, 120_000)
      expect(running.healthy()).toEqual({ ok: true })
    } finally {
      await running.stop()
    }

    const seen = new Map<string, number>()
    const letters: string[] = []
    const consumer = kafka.consumer({ groupId: unique('big-reader'), readUncommitted: false })
    await consumer.connect()
    await consumer.subscribe({ topics: [output, dlq], fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        if (topic === dlq) letters.push(String(message.value))
        else seen.set(String(message.key), message.value?.length ?? 0)
      },
    })
    try {
      await eventually(() => (seen.size >= RECORDS - 1 && letters.length >= 1 ? true : undefined), {
        timeoutMs: 60_000,
        what: `${RECORDS - 1} outputs and a dead letter (have ${seen.size})`,
      })
    } finally {
      await consumer.disconnect()
    }
    expect(seen.size).toBe(RECORDS - 1)
    expect([...seen.values()].every((bytes) => bytes === OUTPUT_BYTES)).toBe(true)
    expect(seen.has('huge')).toBe(false)
    expect(letters.map((l) => JSON.parse(l))).toEqual([
      { code: 'IMF_ERR_RECORD_TOO_LARGE', key: 'huge' },
    ])
  })
})
