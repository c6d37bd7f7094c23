// A broker killed (SIGKILL) and restarted under load, on a broker of this test's own (never
// the shared one): the counting topology commits again within 10 s of the broker being
// back, without a restart of its own, and every key's counts come out exactly 1..n.
// Three counts side by side: transactions per task and per thread with a commit per slice
// (imflow's topologies), and per thread with the runtime's default of 100 ms commits.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Kafka } from 'kafkajs'
import { afterAll, describe, expect, it } from 'vitest'
import { topicEnds } from '../../bench/broker.js'
import { countTopology } from '../../bench/count-topology.js'
import { type EmbeddedKafka, startEmbeddedKafka } from '../../ops/embedded/embedded-kafka.js'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { createKafka } from '../../ops/kafka-client.js'
import { silentLogger } from '../../ops/log.js'
import { freePort } from '../../ops/ports.js'
import { startTopology } from '../../topologies/runtime/index.js'
import { eventually, unique } from './helpers.js'
import { committedSum, expectExactCounts, readCounts, waitForConsumed } from './runtime-support.js'

const KEYS = 100

/**
 * Sends 100 records every 50 ms until stopped. Each send tries once: during the outage they
 * fail at once, and the first after the broker is back goes through (with the client's
 * retries a send that began in the outage backs off for up to ~16 s, nested retries longer,
 * and the count then has no new input to commit).
 */
function load(kafka: Kafka, topic: string) {
  const producer = kafka.producer({ retry: { retries: 0 } })
  let running = true
  let sent = 0
  let failing = false
  let resumedAt: number | undefined
  const done = (async () => {
    await producer.connect()
    for (let round = 0; running; round++) {
      const messages = Array.from({ length: 100 }, (_, i) => ({
        key: `k${(round * 100 + i) % KEYS}`,
        value: String(round),
      }))
      await producer.send({ topic, messages }).then(
        () => {
          sent += messages.length
          if (failing) resumedAt = Date.now()
          failing = false
        },
        () => {
          failing = true
        },
      )
      await new Promise((r) => setTimeout(r, 50))
    }
    await producer.disconnect()
  })()
  return {
    sent: () => sent,
    /** When a send went through again after sends had failed (undefined: none failed yet). */
    resumedAt: () => resumedAt,
    stop: async () => {
      running = false
      await done
    },
  }
}

/** Every record of the topic, counted per key: what the topology must have counted. */
async function countInput(kafka: Kafka, topic: string): Promise<Map<string, number>> {
  const admin = kafka.admin()
  await admin.connect()
  const total = await topicEnds(admin, topic)
  await admin.disconnect()
  const counts = new Map<string, number>()
  let seen = 0
  const consumer = kafka.consumer({ groupId: unique('restart-input') })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      const key = String(message.key)
      counts.set(key, (counts.get(key) ?? 0) + 1)
      seen++
    },
  })
  try {
    await eventually(() => (seen >= total ? true : undefined), { timeoutMs: 60_000 })
  } finally {
    await consumer.disconnect()
  }
  return counts
}

const setups = [
  { scope: 'task', commitIntervalMs: 0 },
  { scope: 'thread', commitIntervalMs: 0 },
  { scope: 'thread', commitIntervalMs: 100 },
] as const

describe('runtime: a broker restart under load, transactions per task and per thread', () => {
  let dir: string
  let broker: EmbeddedKafka | undefined

  afterAll(async () => {
    await broker?.stop()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('commits again within 10 s of the broker being back, nothing lost or doubled', {
    timeout: 420_000,
  }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'imflow-restart-'))
    const port = await freePort()
    const start = () =>
      startEmbeddedKafka({ port, dataDir: join(dir, 'kafka'), log: silentLogger, heap: '384m' })
    broker = await start()
    const kafka = createKafka(broker.brokers, 'restart-test', silentLogger)
    const admin = kafka.admin()
    await admin.connect()
    const runs = await Promise.all(
      setups.map(async ({ scope, commitIntervalMs }) => {
        const name = `${scope}-${commitIntervalMs}ms`
        const [input, output, app] = ['restart-in', 'restart-out', 'restart-app'].map((n) =>
          unique(`${n}-${name}`),
        ) as [string, string, string]
        await createTopicsAndWait(admin, [
          { topic: input, numPartitions: 2 },
          { topic: output, numPartitions: 2 },
        ])
        const running = await startTopology(countTopology(input, output), {
          kafka,
          appId: app,
          stateDir: join(dir, 'state', name),
          log: silentLogger,
          transactionScope: scope,
          commitIntervalMs,
        })
        return { name, input, output, group: `${app}-count`, running, traffic: load(kafka, input) }
      }),
    )
    await admin.disconnect()
    try {
      const committed = () => Promise.all(runs.map((r) => committedSum(kafka, r.group, r.input)))
      await eventually(
        async () => ((await committed()).every((n) => n > 2_000) ? true : undefined),
        {
          timeoutMs: 120_000,
          what: 'the topologies to commit under load',
        },
      )
      const atKill = await committed()
      process.kill(broker.process.pid, 'SIGKILL')
      await broker.process.exited
      await new Promise((r) => setTimeout(r, 3_000))
      broker = await start()
      const back = Date.now()
      const recovered = await Promise.all(
        runs.map(async (r, i) => {
          await eventually(
            async () =>
              (await committedSum(kafka, r.group, r.input)) > (atKill[i] ?? 0) + 500
                ? true
                : undefined,
            { timeoutMs: 60_000, intervalMs: 200, what: `commits after the restart (${r.name})` },
          )
          const ms = Date.now() - back
          const inputMs = (r.traffic.resumedAt() ?? Number.NaN) - back
          return {
            ms,
            line: `${r.name} commits again ${ms} ms after it was back (its input ${inputMs} ms)`,
          }
        }),
      )
      process.stderr.write(`broker restart: ${recovered.map((r) => r.line).join('; ')}\n`)
      for (const { ms, line } of recovered) expect(ms, line).toBeLessThan(10_000)
      await new Promise((r) => setTimeout(r, 2_000))
    } finally {
      await Promise.all(runs.map((r) => r.traffic.stop()))
    }
    for (const { name, input, output, group, running, traffic } of runs) {
      await waitForConsumed(kafka, group, input, 120_000)
      expect(running.healthy(), name).toEqual({ ok: true })
      await running.stop()
      const expected = await countInput(kafka, input)
      const records = [...expected.values()].reduce((s, n) => s + n, 0)
      expect(records).toBeGreaterThan(traffic.sent() / 2)
      const counts = await readCounts(kafka, output, unique('restart-reader'), records)
      expectExactCounts(counts, expected, `${name} `)
    }
  })
})
