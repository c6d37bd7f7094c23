import { randomBytes } from 'node:crypto'
import { appendFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Admin,
  type Kafka,
  Kafka as KafkaClient,
  logLevel,
  Partitioners,
  type Producer,
} from 'kafkajs'
import { inject } from 'vitest'
import { type RunningApp, startApp } from '../../ops/app/app.js'
import { loadConfig } from '../../ops/app/config.js'
import { createLogger, type Logger, silentLogger } from '../../ops/log.js'
import { freePort } from '../../ops/ports.js'

/** A name no other test file uses, so files can run in parallel on one broker. */
export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`
}

export function testKafka(clientId = unique('test')): Kafka {
  return new KafkaClient({ clientId, brokers: inject('kafkaBrokers'), logLevel: logLevel.NOTHING })
}

/**
 * A transactional producer as the runtime's (idempotent, one request in flight, the Java
 * client's partitioner), its id `name` made unique; not connected yet.
 */
export function transactionalProducer(kafka: Kafka, name: string): Producer {
  return kafka.producer({
    transactionalId: unique(name),
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  })
}

export async function withAdmin<T>(work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = testKafka().admin()
  await admin.connect()
  try {
    return await work(admin)
  } finally {
    await admin.disconnect()
  }
}

/**
 * The apps' log: quiet, unless `IMFLOW_TEST_LOG` names a file to append it to (info and up),
 * for finding out why a test waited in vain.
 */
function testAppLogger(): Logger {
  const file = process.env.IMFLOW_TEST_LOG
  return file ? createLogger('info', (line) => appendFileSync(file, `${line}\n`)) : silentLogger
}

/** Polls until `check` returns a value (not undefined) or the bounded wait ends. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 30_000, intervalMs = 100, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (err) {
      last = err
    }
    await new Promise((r) => setTimeout(r, intervalMs))
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
  )
}

/**
 * `imflow start` in-process on the run's broker and registry, with its own topic prefix and
 * data folder; stop() also removes the folder (unless it is one to keep).
 */
export async function startTestApp(
  prefix: string,
  env: Record<string, string> = {},
  /** A data folder to keep (a restart reuses it): stop() leaves it in place. */
  keep?: { dataDir: string; port: number },
  /** The app's log (quiet by default, see testAppLogger). */
  log: Logger = testAppLogger(),
): Promise<{ app: RunningApp; stop(): Promise<void> }> {
  const dataDir = keep?.dataDir ?? (await mkdtemp(join(tmpdir(), 'imflow-app-')))
  const app = await startApp(
    loadConfig({
      KAFKA_BROKERS: inject('kafkaBrokers').join(','),
      SCHEMA_REGISTRY_URL: inject('schemaRegistryUrl'),
      IMFLOW_TOPIC_PREFIX: prefix,
      IMFLOW_PORT: String(keep?.port ?? (await freePort())),
      IMFLOW_DATA_DIR: dataDir,
      IMFLOW_PARTITIONS: '2',
      // Tests share two loaded cores: a stall there is the machine's, not the app's overload
      // (overload.test.ts turns the bound on).
      IMFLOW_MAX_EVENT_LOOP_LAG_MS: '0',
      // IMFLOW_TRANSACTION_SCOPE=task runs the app tests with a producer per task.
      ...(process.env.IMFLOW_TRANSACTION_SCOPE
        ? { IMFLOW_TRANSACTION_SCOPE: process.env.IMFLOW_TRANSACTION_SCOPE }
        : {}),
      ...env,
    }),
    log,
  )
  return {
    app,
    async stop() {
      await app.stop()
      if (!keep) await rm(dataDir, { recursive: true, force: true })
    },
  }
}

/** One API request: JSON body when given, bearer token when given. */
export function httpCall(
  baseUrl: string,
  method: string,
  path: string,
  bearer?: string,
  body?: unknown,
): Promise<Response> {
  return fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
}
