// A store added to a topology that has run, declared with a backfill: before its tasks
// process anything, the runtime folds the source partition from the earliest retained offset
// up to the group's committed position into it, then the tasks go on live. Its state equals a
// run that had the store from the start (same digest), and a SIGKILL half way through the
// backfill resumes from the last committed progress without folding a record twice
// (docs/replay.md, "Backfill").

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Kafka } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backfillTopology, sums } from '../../bench/sum-topology.js'
import { digestLogs } from '../../ops/app/commands/replay/digest-app.js'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { createLogger } from '../../ops/log.js'
import { createMetrics, type TaskMetrics } from '../../ops/metrics.js'
import {
  changelogTopic,
  queryStore,
  type RunningTopology,
  startTopology,
} from '../../topologies/runtime/index.js'
import { eventually, testKafka, unique, withAdmin } from './helpers.js'
import { type CountApp, spawnFixture, waitForConsumed } from './runtime-support.js'

const KEYS = 17

/** Produces records `from` .. `to - 1` (key k<i % KEYS>, value i % 100); the sums they add. */
async function produce(kafka: Kafka, topic: string, from: number, to: number) {
  const producer = kafka.producer()
  await producer.connect()
  const messages = []
  for (let i = from; i < to; i++) messages.push({ key: `k${i % KEYS}`, value: String(i % 100) })
  for (let i = 0; i < messages.length; i += 2_000)
    await producer.send({ topic, messages: messages.slice(i, i + 2_000) })
  await producer.disconnect()
}

function expectedSums(to: number): Map<string, number> {
  const out = new Map<string, number>()
  for (let i = 0; i < to; i++) out.set(`k${i % KEYS}`, (out.get(`k${i % KEYS}`) ?? 0) + (i % 100))
  return out
}

describe('runtime: a store added later, built from the log', () => {
  const kafka = testKafka()
  let stateDir: string
  const running: RunningTopology[] = []
  const children: CountApp[] = []

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'imflow-backfill-store-'))
  })
  afterAll(async () => {
    for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL')
    for (const r of running) await r.stop().catch(() => {})
    await rm(stateDir, { recursive: true, force: true })
  })

  async function start(
    app: string,
    input: string,
    withSums: boolean | 'plain',
    lines: string[] = [],
    sliceRecords = 1_000,
    metrics?: TaskMetrics,
  ) {
    const log = createLogger('info', (line) => lines.push(line))
    const topology = await startTopology(backfillTopology(input, withSums), {
      kafka,
      appId: app,
      stateDir,
      log,
      sliceLimits: { records: sliceRecords, bytes: 4 * 1_048_576, ms: 500 },
      ...(metrics ? { metrics } : {}),
    })
    running.push(topology)
    return topology
  }

  /** Every task of the topology open (backfills done). */
  const opened = (topology: RunningTopology, partitions: number) =>
    eventually(
      () =>
        Array.from({ length: partitions }, (_, p) => topology.committedStore(p, 'sums')).every(
          Boolean,
        ) || undefined,
      { timeoutMs: 60_000, what: 'every task to open' },
    )

  const digests = (app: string) =>
    withAdmin((admin) =>
      digestLogs(
        kafka,
        admin,
        ['counts', 'sums'].map((store) => ({
          topology: 'summing',
          store,
          topic: changelogTopic(app, 'summing', store),
        })),
      ),
    )

  async function expectSums(topology: RunningTopology, to: number) {
    for (const [key, sum] of expectedSums(to))
      expect(await queryStore(topology, sums, key).get(key), key).toBe(sum)
  }

  it('builds the new store from the log, as a run that had it from the start', {
    timeout: 120_000,
  }, async () => {
    const input = unique('bf-in')
    const app = unique('bf-app')
    const reference = unique('bf-ref')
    await withAdmin((admin) => createTopicsAndWait(admin, [{ topic: input, numPartitions: 2 }]))
    await produce(kafka, input, 0, 600)

    const first = await start(app, input, false)
    await waitForConsumed(kafka, `${app}-summing`, input, 60_000)
    await first.stop()

    const lines: string[] = []
    const metrics = createMetrics().task
    const second = await start(app, input, true, lines, 1_000, metrics)
    await opened(second, 2)
    // Every record before the store existed, folded once (both partitions).
    const folded = await metrics.backfilledRecords.get()
    expect(folded.values.reduce((sum, v) => sum + v.value, 0)).toBe(600)
    expect(lines.filter((l) => l.includes('backfilling a new store'))).toHaveLength(2)
    expect(lines.filter((l) => l.includes('store backfilled'))).toHaveLength(2)
    // Folded, not rebuilt by a shadow run (which a store without a fold gets).
    expect(lines.join('\n')).not.toContain('rebuilding new stores by a shadow run')
    // Then live: new records reach both stores.
    await produce(kafka, input, 600, 800)
    await waitForConsumed(kafka, `${app}-summing`, input, 60_000)
    await expectSums(second, 800)
    await second.stop()

    const fromStart = await start(reference, input, true)
    await waitForConsumed(kafka, `${reference}-summing`, input, 60_000)
    await fromStart.stop()
    const [built, referenceRows] = [await digests(app), await digests(reference)]
    expect(built.filter((r) => r.store === 'sums' && r.keys > 0)).toHaveLength(2)
    expect(
      built.map(({ store, partition, keys, digest }) => ({ store, partition, keys, digest })),
    ).toEqual(
      referenceRows.map(({ store, partition, keys, digest }) => ({
        store,
        partition,
        keys,
        digest,
      })),
    )
  })

  /** Resolves once the changelog's end passed `offsets` (the backfill committed that far). */
  const changelogPast = (changelog: string, offsets: number, alive?: CountApp) =>
    eventually(
      async () => {
        if (alive && alive.child.exitCode !== null) throw new Error(`exited: ${alive.output()}`)
        const ends = await withAdmin((admin) => admin.fetchTopicOffsets(changelog)).catch(() => [])
        return Number(ends[0]?.high ?? 0) > offsets ? Number(ends[0]?.high) : undefined
      },
      { timeoutMs: 60_000, intervalMs: 100, what: `${changelog} to pass ${offsets}` },
    )

  it('resumes a backfill killed or stopped half way, folding each record once', {
    timeout: 120_000,
  }, async () => {
    const input = unique('bf-kill-in')
    const app = unique('bf-kill-app')
    const total = 4_000
    await withAdmin((admin) => createTopicsAndWait(admin, [{ topic: input, numPartitions: 1 }]))
    await produce(kafka, input, 0, total)
    const first = await start(app, input, false)
    await waitForConsumed(kafka, `${app}-summing`, input, 60_000)
    await first.stop()

    // The new version in a process of its own, 10 records per backfill transaction.
    const env = {
      IMFLOW_TEST_APP: app,
      IMFLOW_TEST_INPUT: input,
      IMFLOW_TEST_STATE: stateDir,
      IMFLOW_TEST_WITH_SUMS: '1',
      IMFLOW_TEST_SLICE_RECORDS: '10',
    }
    const child = spawnFixture('backfill-app', env)
    children.push(child)
    const changelog = changelogTopic(app, 'summing', 'sums')
    // Killed once a few of its transactions are in the changelog, long before the end.
    const killedAt = await changelogPast(changelog, 60, child)
    child.child.kill('SIGKILL')
    await child.exited
    expect(child.output()).toContain('backfilling a new store')
    expect(child.output()).not.toContain('store backfilled')

    // Records that come meanwhile wait for the task: a batch of them waits on its open.
    await produce(kafka, input, total, total + 100)
    // Started again, with small transactions, and stopped while it backfills: the stop does
    // not wait for the backfill to end.
    const stoppedLines: string[] = []
    const stopped = await start(app, input, true, stoppedLines, 10)
    await changelogPast(changelog, killedAt + 60)
    const stopping = Date.now()
    await stopped.stop()
    expect(Date.now() - stopping).toBeLessThan(20_000)
    expect(stoppedLines.join('\n')).toContain('resuming an interrupted store backfill')
    expect(stoppedLines.join('\n')).not.toContain('store backfilled')

    const lines: string[] = []
    const again = await start(app, input, true, lines)
    await opened(again, 1)
    const resumed = lines.find((l) => l.includes('resuming an interrupted store backfill'))
    expect(resumed, lines.join('\n')).toBeDefined()
    // It went on from where the interrupted runs committed, not from the start.
    expect(Number(/from=(\d+)/.exec(resumed ?? '')?.[1])).toBeGreaterThan(0)
    expect(lines.some((l) => l.includes('store backfilled'))).toBe(true)
    // The backfill ends at the committed position; the records after it are processed live.
    await waitForConsumed(kafka, `${app}-summing`, input, 60_000)
    await expectSums(again, total + 100)
    await again.stop()
  })

  it('leaves a store that ran before its backfill was declared as it is', {
    timeout: 120_000,
  }, async () => {
    const input = unique('bf-old-in')
    const app = unique('bf-old-app')
    await withAdmin((admin) => createTopicsAndWait(admin, [{ topic: input, numPartitions: 1 }]))
    await produce(kafka, input, 0, 300)
    // The sums store there from the start, without a backfill; then the process dies (no
    // checkpoint): the next open restores every store from its changelog.
    const plain = await start(app, input, 'plain')
    await waitForConsumed(kafka, `${app}-summing`, input, 60_000)
    await plain.stop()
    await rm(join(stateDir, app, 'summing', '0', 'checkpoint.json'))

    const lines: string[] = []
    const declared = await start(app, input, true, lines)
    await opened(declared, 1)
    expect(lines.join('\n')).toContain('store has data from before its backfill was declared')
    expect(lines.join('\n')).not.toContain('backfilling a new store')
    // Not folded a second time over what it holds.
    await expectSums(declared, 300)
    await declared.stop()
  })
})
