// A store added to a topology that has run, with no fold declared: each task rebuilds it
// before it processes anything, by a shadow run of the task over fresh stores from the
// earliest retained offset up to the group's committed positions, then a copy into the live
// store's changelog (docs/replay.md, "Backfill"). The new store here is written only for
// messages the dedupe store has not seen, and numbers each sender's messages in order: run
// over the live dedupe store, it would stay empty. Its state equals a run that had it from the
// start (same digests), the shadow sends nothing, and a SIGKILL half way through the copy is
// redone by the next start.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Kafka } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { digestLogs } from '../../ops/app/commands/replay/digest-app.js'
import { partitionEnds, readToEnd } from '../../ops/app/commands/replay/read-to-end.js'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { createLogger } from '../../ops/log.js'
import {
  changelogTopic,
  defineTopology,
  partitionForKey,
  type RunningTopology,
  startTopology,
} from '../../topologies/runtime/index.js'
import { firstsTopology } from '../fixtures/firsts-topology.js'
import { eventually, testKafka, unique, withAdmin } from './helpers.js'
import { type CountApp, spawnFixture, waitForConsumed } from './runtime-support.js'

const SENDERS = 7

/** Message j: sender s<j % SENDERS>, its clientMsgId unique to j. */
async function produce(kafka: Kafka, topic: string, ids: readonly number[]) {
  const producer = kafka.producer()
  await producer.connect()
  const messages = ids.map((j) => ({ key: `s${j % SENDERS}`, value: `s${j % SENDERS}-${j}` }))
  for (let i = 0; i < messages.length; i += 2_000)
    await producer.send({ topic, messages: messages.slice(i, i + 2_000) })
  await producer.disconnect()
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

/** The committed values of a topic, over all partitions. */
async function committedValues(kafka: Kafka, topic: string): Promise<string[]> {
  const ends = await withAdmin((admin) => partitionEnds(admin, [topic]))
  const values: string[] = []
  await readToEnd(kafka, ends, (_t, _p, _k, value) => values.push(String(value)))
  return values
}

describe('runtime: a new store without a fold, rebuilt by a shadow run', () => {
  const kafka = testKafka()
  let stateDir: string
  const running: RunningTopology[] = []
  const children: CountApp[] = []

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'imflow-store-rebuild-'))
  })
  afterAll(async () => {
    for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL')
    for (const r of running) await r.stop().catch(() => {})
    await rm(stateDir, { recursive: true, force: true })
  })

  async function topics(partitions: number) {
    const input = unique('rb-in')
    const output = unique('rb-out')
    const reference = unique('rb-ref-out')
    await withAdmin((admin) =>
      createTopicsAndWait(
        admin,
        [input, output, reference].map((topic) => ({ topic, numPartitions: partitions })),
      ),
    )
    return { input, output, reference }
  }

  async function start(
    app: string,
    input: string,
    output: string,
    withFirsts: boolean,
    lines: string[] = [],
  ) {
    const log = createLogger('info', (line) => lines.push(line))
    const topology = await startTopology(firstsTopology(input, output, withFirsts), {
      kafka,
      appId: app,
      stateDir,
      log,
    })
    running.push(topology)
    return topology
  }

  /** Runs the version with the store from the start, into its own app id and output. */
  async function reference(input: string, output: string) {
    const app = unique('rb-ref')
    const fromStart = await start(app, input, output, true)
    await waitForConsumed(kafka, `${app}-firsts`, input, 60_000)
    await fromStart.stop()
    return app
  }

  const digests = async (app: string) =>
    (
      await withAdmin((admin) =>
        digestLogs(
          kafka,
          admin,
          ['dedupe', 'firsts'].map((store) => ({
            topology: 'firsts',
            store,
            topic: changelogTopic(app, 'firsts', store),
          })),
        ),
      )
    ).map(({ store, partition, keys, digest }) => ({ store, partition, keys, digest }))

  /** Every task of the topology open (its rebuilds done). */
  const opened = (topology: RunningTopology, partitions: number) =>
    eventually(
      () =>
        Array.from({ length: partitions }, (_, p) => topology.committedStore(p, 'firsts')).every(
          Boolean,
        ) || undefined,
      { timeoutMs: 90_000, what: 'every task to open' },
    )

  it('builds the new store as a run that had it from the start, and sends nothing again', {
    timeout: 180_000,
  }, async () => {
    const { input, output, reference: referenceOut } = await topics(2)
    const app = unique('rb-app')
    // 280 messages, then each again: duplicates.
    await produce(
      kafka,
      input,
      range(0, 600).map((i) => i % 280),
    )
    const first = await start(app, input, output, false)
    await waitForConsumed(kafka, `${app}-firsts`, input, 60_000)
    await first.stop()
    // Records that came while it was stopped are after the committed positions: the new
    // version processes them live, not in its rebuild.
    await produce(kafka, input, [...range(280, 330), ...range(0, 20)])

    const lines: string[] = []
    const second = await start(app, input, output, true, lines)
    await opened(second, 2)
    await waitForConsumed(kafka, `${app}-firsts`, input, 60_000)
    const log = lines.join('\n')
    expect(lines.filter((l) => l.includes('rebuilding new stores by a shadow run'))).toHaveLength(2)
    const rebuilt = lines.filter((l) => l.includes('store rebuilt'))
    expect(rebuilt).toHaveLength(2)
    for (const line of rebuilt) expect(line).toContain('kept=0')
    expect(log).toContain(
      'new stores in a topology whose group has positions: built from the log first',
    )
    // Nothing it could not rebuild: the log is whole, no wall-clock punctuator.
    expect(log).not.toContain('no longer holds the start')
    expect(log).not.toContain('wall-clock punctuators')
    // Each sender's count in the new store: its messages up to the last one, none twice.
    for (let s = 0; s < SENDERS; s++) {
      const store = second.committedStore(partitionForKey(`s${s}`, 2), 'firsts')
      const count = range(0, 330).filter((j) => j % SENDERS === s).length
      expect(String(await store?.get(Buffer.from(`#s${s}`))), `s${s}`).toBe(String(count))
    }
    await second.stop()
    // The shadow's outputs went nowhere: every message accepted once, by the live runs.
    const accepted = await committedValues(kafka, output)
    expect(accepted).toHaveLength(330)
    expect(new Set(accepted).size).toBe(330)

    const built = await digests(app)
    expect(built.filter((r) => r.store === 'firsts' && r.keys > 0)).toHaveLength(2)
    expect(built).toEqual(await digests(await reference(input, referenceOut)))
  })

  it('redoes a rebuild killed half way through its copy, and ends the same', {
    timeout: 180_000,
  }, async () => {
    const { input, output, reference: referenceOut } = await topics(1)
    const app = unique('rb-kill-app')
    const total = 1_500
    await produce(kafka, input, range(0, total))
    const first = await start(app, input, output, false)
    await waitForConsumed(kafka, `${app}-firsts`, input, 60_000)
    await first.stop()

    // The new version in a process of its own, 10 records per transaction: its copy takes
    // about 150 transactions.
    const child = spawnFixture('firsts-app', {
      IMFLOW_TEST_APP: app,
      IMFLOW_TEST_INPUT: input,
      IMFLOW_TEST_OUTPUT: output,
      IMFLOW_TEST_STATE: stateDir,
      IMFLOW_TEST_SLICE_RECORDS: '10',
    })
    children.push(child)
    const changelog = changelogTopic(app, 'firsts', 'firsts')
    await eventually(
      async () => {
        if (child.child.exitCode !== null) throw new Error(`exited: ${child.output()}`)
        const ends = await withAdmin((admin) => admin.fetchTopicOffsets(changelog)).catch(() => [])
        return Number(ends[0]?.high ?? 0) > 100 || undefined
      },
      { timeoutMs: 90_000, intervalMs: 100, what: `${changelog} to fill part way` },
    )
    child.child.kill('SIGKILL')
    await child.exited
    expect(child.output()).toContain('rebuilding new stores by a shadow run')
    expect(child.output()).not.toContain('store rebuilt')

    // More messages while it is down (new ones and duplicates): processed live after the rebuild.
    await produce(kafka, input, [...range(total, total + 100), ...range(0, 50)])
    const lines: string[] = []
    const again = await start(app, input, output, true, lines)
    await opened(again, 1)
    await waitForConsumed(kafka, `${app}-firsts`, input, 60_000)
    await again.stop()
    expect(lines.join('\n')).toContain('rebuilding new stores by a shadow run')
    // The copy found what the killed one had committed, and wrote the rest.
    const rebuilt = lines.find((l) => l.includes('store rebuilt')) ?? ''
    expect(Number(/kept=(\d+)/.exec(rebuilt)?.[1]), rebuilt).toBeGreaterThan(0)
    expect(Number(/written=(\d+)/.exec(rebuilt)?.[1]), rebuilt).toBeGreaterThan(0)
    const accepted = await committedValues(kafka, output)
    expect(accepted).toHaveLength(total + 100)
    expect(new Set(accepted).size).toBe(total + 100)
    expect(await digests(app)).toEqual(await digests(await reference(input, referenceOut)))
  })

  /**
   * Members (key: sender, value: "join" or "leave") and messages (key: sender); the second
   * version counts each member's messages in a new store.
   */
  const membersTopology = (members: string, messages: string, withCounts: boolean) =>
    defineTopology({
      name: 'members',
      sources: [{ topic: members }, { topic: messages }],
      stores: withCounts ? ['members', 'counts'] : ['members'],
      processor: (context) => ({
        async process(record) {
          const sender = record.key ?? Buffer.alloc(0)
          if (record.topic === members) {
            if (String(record.value) === 'join') context.store('members').put(sender, sender)
            else context.store('members').delete(sender)
            return
          }
          if (!withCounts || !(await context.store('members').get(sender))) return
          const counts = context.store('counts')
          const n = Number((await counts.get(sender))?.toString() ?? 0) + 1
          counts.put(sender, Buffer.from(String(n)))
        },
      }),
    })

  it('feeds the shadow the sources oldest record first, as they came', {
    timeout: 120_000,
  }, async () => {
    const members = unique('rb-members')
    const messages = unique('rb-messages')
    const app = unique('rb-members-app')
    await withAdmin((admin) =>
      createTopicsAndWait(admin, [
        { topic: members, numPartitions: 1 },
        { topic: messages, numPartitions: 1 },
      ]),
    )
    const log = createLogger('info', () => {})
    const first = await startTopology(membersTopology(members, messages, false), {
      kafka,
      appId: app,
      stateDir,
      log,
    })
    running.push(first)
    // A message before s1 joins, one while a member, one after it left: each processed live
    // before the next is sent, in time order.
    const steps: [string, string, number][] = [
      [messages, 'm1', 1_000],
      [members, 'join', 2_000],
      [messages, 'm2', 3_000],
      [messages, 'm3', 4_000],
      [members, 'leave', 5_000],
      [messages, 'm4', 6_000],
    ]
    const producer = kafka.producer()
    await producer.connect()
    const base = Date.now() - 60_000
    for (const [topic, value, at] of steps) {
      await producer.send({
        topic,
        messages: [{ key: 's1', value, timestamp: String(base + at) }],
      })
      await waitForConsumed(kafka, `${app}-members`, topic, 60_000)
    }
    await producer.disconnect()
    await first.stop()

    const second = await startTopology(membersTopology(members, messages, true), {
      kafka,
      appId: app,
      stateDir,
      log,
    })
    running.push(second)
    const counts = await eventually(async () => second.committedStore(0, 'counts'), {
      timeoutMs: 60_000,
      what: 'the task to open',
    })
    // Read by source (members whole first, or messages first), it would count none.
    expect(String(await counts.get(Buffer.from('s1')))).toBe('2')
    await second.stop()
  })
})
