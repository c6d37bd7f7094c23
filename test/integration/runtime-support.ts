// Helpers for runtime tests: run the counting topology as a child process, produce input,
// read outputs read_committed, and wait for a group to consume everything.

import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Kafka,
  KafkaJSNonRetriableError,
  type Producer,
  type ProducerConfig,
  type Transaction,
} from 'kafkajs'
import { afterAll, beforeAll, expect, inject } from 'vitest'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import type { TransactionScope } from '../../topologies/runtime/index.js'
import { transactionScopeFrom } from '../fixtures/topology-process.js'
import { eventually, unique, withAdmin } from './helpers.js'

/**
 * The transaction scope the runtime tests run their topologies with: thread (one producer per
 * runner, the app's default), or task when IMFLOW_TRANSACTION_SCOPE=task. The key crash tests
 * run both scopes every time.
 */
export function testScope(): TransactionScope {
  return transactionScopeFrom()
}

/**
 * A test file's state folder and topics: made before its tests (each topic with its
 * partition count), the folder removed after them. `dir` is read once the tests run.
 */
export function scratchState(
  name: string,
  topics: Record<string, number> = {},
): { readonly dir: string } {
  let dir = ''
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `imflow-${name}-`))
    const wanted = Object.entries(topics).map(([topic, numPartitions]) => ({
      topic,
      numPartitions,
    }))
    if (wanted.length > 0) await withAdmin((admin) => createTopicsAndWait(admin, wanted))
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))
  return {
    get dir() {
      return dir
    },
  }
}

export interface CountApp {
  child: ChildProcess
  output: () => string
  exited: Promise<number | null>
}

export interface CountAppOptions {
  app: string
  input: string
  output: string
  stateDir: string
  scope: 'task' | 'thread'
  /** How often its tasks checkpoint while running (default: the runtime's). */
  checkpointIntervalMs?: number
  /** Transactions spanning this long (default: the runtime's), which fetch ahead. */
  commitIntervalMs?: number
  /** Each record waits this long before it is counted (default 0). */
  recordDelayMs?: number
  /** The app's log level (default: IMFLOW_LOG_LEVEL, else info). */
  logLevel?: 'debug' | 'info'
}

/** The counting topology (test/fixtures/count-app.ts) in a process of its own. */
export function spawnCountApp(options: CountAppOptions): CountApp {
  return spawnFixture('count-app', {
    IMFLOW_TEST_APP: options.app,
    IMFLOW_TEST_INPUT: options.input,
    IMFLOW_TEST_OUTPUT: options.output,
    IMFLOW_TEST_STATE: options.stateDir,
    IMFLOW_TEST_TRANSACTION_SCOPE: options.scope,
    ...(options.checkpointIntervalMs
      ? { IMFLOW_TEST_CHECKPOINT_INTERVAL_MS: String(options.checkpointIntervalMs) }
      : {}),
    ...(options.commitIntervalMs !== undefined
      ? { IMFLOW_TEST_COMMIT_INTERVAL_MS: String(options.commitIntervalMs) }
      : {}),
    ...(options.recordDelayMs
      ? { IMFLOW_TEST_RECORD_DELAY_MS: String(options.recordDelayMs) }
      : {}),
    ...(options.logLevel ? { IMFLOW_LOG_LEVEL: options.logLevel } : {}),
  })
}

/** A count app run until its group consumed the whole input, then stopped cleanly (exit 0). */
export async function countToEnd(
  kafka: Kafka,
  options: CountAppOptions,
  timeoutMs: number,
): Promise<CountApp> {
  const running = spawnCountApp(options)
  try {
    await waitForConsumed(kafka, `${options.app}-count`, options.input, timeoutMs)
  } finally {
    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)
  }
  return running
}

/** A topology fixture (test/fixtures/<name>.ts) as a child process on the run's broker. */
export function spawnFixture(name: string, env: Record<string, string>): CountApp {
  const child = spawn(process.execPath, ['--import', 'tsx', `test/fixtures/${name}.ts`], {
    env: { ...process.env, IMFLOW_TEST_BROKERS: inject('kafkaBrokers').join(','), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (d) => {
    output += d
  })
  child.stderr?.on('data', (d) => {
    output += d
  })
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  )
  return { child, output: () => output, exited }
}

export async function produceKeyed(
  kafka: Kafka,
  topic: string,
  total: number,
  keys: number,
  /** Sends of `chunk` records (default 5,000), `pauseMs` apart (default 0): input that flows. */
  pace: { chunk?: number; pauseMs?: number } = {},
): Promise<Map<string, number>> {
  const expected = new Map<string, number>()
  const producer = kafka.producer()
  await producer.connect()
  const chunk = pace.chunk ?? 5_000
  for (let start = 0; start < total; start += chunk) {
    if (start > 0 && pace.pauseMs) await new Promise((r) => setTimeout(r, pace.pauseMs))
    const messages = Array.from({ length: Math.min(chunk, total - start) }, (_, i) => {
      const key = `k${(start + i) % keys}`
      expected.set(key, (expected.get(key) ?? 0) + 1)
      return { key, value: String(start + i) }
    })
    await producer.send({ topic, messages })
  }
  await producer.disconnect()
  return expected
}

/** Resolves when the group's committed offsets reach the end of every partition of the topic. */
export async function waitForConsumed(
  kafka: Kafka,
  groupId: string,
  topic: string,
  timeoutMs: number,
): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const ends = await admin.fetchTopicOffsets(topic)
    await eventually(
      async () => {
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] })
        const done = ends.every((e) => {
          const c = committed?.partitions.find((p) => p.partition === e.partition)
          // A partition with no records gets no committed offset: nothing to consume there.
          if (Number(e.high) === Number(e.low)) return true
          return c !== undefined && Number(c.offset) >= Number(e.high)
        })
        return done ? true : undefined
      },
      { timeoutMs, intervalMs: 500, what: `group ${groupId} to consume all of ${topic}` },
    )
  } finally {
    await admin.disconnect()
  }
}

/** Every committed output value, per key, in order. */
export async function readCounts(
  kafka: Kafka,
  topic: string,
  groupId: string,
  expectedRecords: number,
): Promise<Map<string, number[]>> {
  const seen = new Map<string, number[]>()
  let total = 0
  const consumer = kafka.consumer({ groupId, readUncommitted: false })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      const key = message.key?.toString() ?? ''
      const list = seen.get(key) ?? []
      list.push(Number(message.value?.toString()))
      seen.set(key, list)
      total++
    },
  })
  try {
    await eventually(() => (total >= expectedRecords ? true : undefined), {
      timeoutMs: 60_000,
      what: `${expectedRecords} output records`,
    }).catch((err: Error) => {
      // How many came by the end of the wait, not at its start.
      throw new Error(`${err.message} (have ${total})`)
    })
    // Give a duplicate, if there were one, the chance to show up.
    await new Promise((r) => setTimeout(r, 1_000))
  } finally {
    await consumer.disconnect()
  }
  return seen
}

/**
 * Each key's outputs are exactly 1..n for its n input records: none lost, doubled or reordered.
 * A failure names up to ten keys that are not, each with its count and last values.
 */
export function expectExactCounts(
  counts: Map<string, number[]>,
  expected: Map<string, number>,
  label = '',
): void {
  const problems: string[] = []
  for (const [key, n] of expected) {
    const seen = counts.get(key) ?? []
    if (seen.length !== n || seen.some((v, i) => v !== i + 1))
      problems.push(
        `${label}${key}: expected 1..${n}, got ${seen.length} values ending ${seen.slice(-3).join(',')}`,
      )
  }
  expect(problems.slice(0, 10)).toEqual([])
}

/** Records of the topic the group has committed, over all partitions. */
export async function committedSum(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] })
    return (committed?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0)
  } finally {
    await admin.disconnect()
  }
}

/** Where one of a test's runs is killed: which run, of how many, over how much input. */
export interface KillPoint {
  /** This run's index, from 0. */
  kill: number
  kills: number
  /** The input records, over every run. */
  total: number
  /** What the runs before it committed. */
  before: number
}

/**
 * Waits until a run has committed past a random point in its share of the input (between
 * (kill + 0.5) / (kills + 1) and (kill + 1) / (kills + 1) of it) and past what the runs before
 * it committed; returns what it committed. A random time after its first commit instead could
 * let the last kills come after the input was done: a run commits thousands of records a second.
 */
export async function committedPastKillPoint(
  kafka: Kafka,
  groupId: string,
  topic: string,
  { kill, kills, total, before }: KillPoint,
): Promise<number> {
  const target = Math.floor((total * (kill + 0.5 + Math.random() / 2)) / (kills + 1))
  return eventually(
    async () => {
      const done = await committedSum(kafka, groupId, topic)
      return done > Math.max(before, target) ? done : undefined
    },
    { timeoutMs: 120_000, intervalMs: 50, what: `run ${kill + 1} to commit past ${target}` },
  )
}

export type Fault = 'committed' | 'aborted'

/**
 * The real client on the real broker, with one failure put in: every 7th transactional
 * commit of the run commits (or aborts) and then reports OUT_OF_ORDER_SEQUENCE_NUMBER, and
 * from then on that client refuses to begin a transaction, as kafkajs does once an EndTxn
 * failed ("Cannot call beginTransaction in state COMMITTING"). Kafka 4 brokers cannot be made
 * to put a client in that state on demand; a broker restart mid-commit does, by chance.
 */
export function stuckAfterCommits(kafka: Kafka, faults: Fault[]): Kafka {
  let commits = 0
  const producer = (config?: ProducerConfig): Producer => {
    const real = kafka.producer(config)
    if (!config?.transactionalId) return real
    let stuck = false
    const transaction = async (): Promise<Transaction> => {
      if (stuck)
        throw new KafkaJSNonRetriableError(
          'Transaction state exception: Cannot call beginTransaction in state COMMITTING',
        )
      const txn = await real.transaction()
      const commit = async () => {
        const fault = ++commits % 7 === 0 ? faults.shift() : undefined
        if (!fault) return txn.commit()
        await (fault === 'committed' ? txn.commit() : txn.abort())
        stuck = true
        throw Object.assign(
          new KafkaJSNonRetriableError('The broker received an out of order sequence number'),
          { type: 'OUT_OF_ORDER_SEQUENCE_NUMBER' },
        )
      }
      return Object.assign(Object.create(txn), { commit })
    }
    return Object.assign(Object.create(real), { transaction })
  }
  return Object.assign(Object.create(kafka), { producer })
}

/** Every committed value of the topic (read_committed), once `expected` arrived and a second passed. */
export async function readCommittedValues(
  kafka: Kafka,
  topic: string,
  expected: number,
): Promise<string[]> {
  const values: string[] = []
  const consumer = kafka.consumer({ groupId: unique('committed-reader'), readUncommitted: false })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      values.push(String(message.value))
    },
  })
  try {
    await eventually(() => (values.length >= expected ? true : undefined), {
      what: `${expected} outputs`,
    }).catch((err: Error) => {
      throw new Error(`${err.message} (have ${values.length})`)
    })
    // A duplicate, were there one, has the time to show up.
    await new Promise((r) => setTimeout(r, 1_000))
  } finally {
    await consumer.disconnect()
  }
  return values
}
