// A tumbling-window count on the real broker: exactly one final result per window, the grace
// rule for out-of-order and late records, and window state that survives a restart of the
// topology in between (stream time included, so no window is emitted twice).

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { silentLogger } from '../../ops/log.js'
import { int64Serde, stringSerde } from '../../state/index.js'
import {
  defineTopology,
  startTopology,
  windowedAggregation,
} from '../../topologies/runtime/index.js'
import { eventually, testKafka, unique, withAdmin } from './helpers.js'
import { testScope } from './runtime-support.js'

describe('runtime: tumbling windows on the broker', () => {
  const kafka = testKafka()
  const [events, counts, late] = ['win-events', 'win-counts', 'win-late'].map(unique) as [
    string,
    string,
    string,
  ]
  const app = unique('win-app')
  let stateDir: string

  const topology = defineTopology({
    name: 'wcount',
    sources: [{ topic: events }],
    sinks: { counts: { topic: counts }, late: { topic: late } },
    stores: ['windows'],
    processor: (context) => {
      const agg = windowedAggregation<string, number, number>(context, {
        store: 'windows',
        sizeMs: 60_000,
        graceMs: 10_000,
        keys: stringSerde,
        aggregates: int64Serde,
        init: () => 0,
        add: (n) => n + 1,
        emit: ({ key, window, value }) =>
          context.send('counts', { key, value: Buffer.from(`${window.start}=${value}`) }),
        onLate: (record, key) =>
          context.send('late', { key, value: Buffer.from(String(record.timestamp)) }),
      })
      return { process: (r) => agg.add(r, r.key?.toString() ?? '', 1) }
    },
  })

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'imflow-win-'))
    await withAdmin((admin) =>
      createTopicsAndWait(
        admin,
        [events, counts, late].map((topic) => ({ topic, numPartitions: 1 })),
      ),
    )
  })
  afterAll(async () => {
    await rm(stateDir, { recursive: true, force: true })
  })

  async function send(records: [string, number][]) {
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({
      topic: events,
      messages: records.map(([key, ts]) => ({ key, value: 'x', timestamp: String(ts) })),
    })
    await producer.disconnect()
  }

  async function collect(topic: string, groupId: string, n: number): Promise<string[]> {
    const seen: string[] = []
    const consumer = kafka.consumer({ groupId, readUncommitted: false })
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(`${message.key?.toString()}@${message.value?.toString()}`)
      },
    })
    try {
      await eventually(() => (seen.length >= n ? true : undefined), {
        what: `${n} records on ${topic}`,
      })
      await new Promise((r) => setTimeout(r, 1_500)) // room for an extra (wrong) record to show
    } finally {
      await consumer.disconnect()
    }
    return seen
  }

  it('emits one final result per window and applies the grace rule, across a restart', async () => {
    // A minute boundary in the recent past (brokers refuse timestamps far in the future).
    const T = Math.floor(Date.now() / 60_000) * 60_000 - 600_000
    const run = () =>
      startTopology(topology, {
        kafka,
        appId: app,
        transactionScope: testScope(),
        stateDir,
        log: silentLogger,
        sessionTimeoutMs: 6_000,
      })

    let running = await run()
    await send([
      ['a', T + 1_000],
      ['a', T + 30_000],
      ['b', T + 59_000],
      ['a', T + 65_000], // next window; stream time 65 s: [T, T+60) still open (grace 10 s)
      ['b', T + 50_000], // out of order, within grace: counted in [T, T+60)
    ])
    await eventually(async () => {
      const [o] = await withAdmin((admin) =>
        admin.fetchOffsets({ groupId: `${app}-wcount`, topics: [events] }),
      )
      return o?.partitions[0]?.offset === '5' ? true : undefined
    })
    await running.stop() // clean stop: a checkpoint; windows and stream time are in the store

    running = await run()
    await send([
      ['c', T + 70_000], // stream time reaches end + grace of [T, T+60): it closes now
      ['a', T + 20_000], // its window has closed: late
      ['c', T + 200_000], // closes [T+60, T+120)
    ])
    const finals = await collect(counts, unique('win-reader'), 4)
    const lates = await collect(late, unique('win-late-reader'), 1)
    await running.stop()

    expect(finals.sort()).toEqual(
      [`a@${T}=2`, `a@${T + 60_000}=1`, `b@${T}=2`, `c@${T + 60_000}=1`].sort(),
    )
    expect(lates).toEqual([`a@${T + 20_000}`])
  })
})
