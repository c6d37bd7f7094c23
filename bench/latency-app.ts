// What the latency benchmarks (sync, bigroom) share: the whole app started for the run (on
// KAFKA_BROKERS, or embedded brokers), a Kafka client, a topic for the raw-hop baseline, and
// tokens and group creation over the API.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Kafka, Kafka as KafkaClient, logLevel } from 'kafkajs'
import { issueToken } from '../connectors/http/jwt.js'
import { type RunningApp, startApp } from '../ops/app/app.js'
import { type Config, loadConfig } from '../ops/app/config.js'
import { createTopicsAndWait } from '../ops/kafka-admin.js'
import { createLogger } from '../ops/log.js'
import { freePort } from '../ops/ports.js'

const SECRET = 'bench-secret-0123456789abcdef'

export interface LatencyApp {
  app: RunningApp
  config: Config
  kafka: Kafka
  /** The raw produce -> consume hop's topic (4 partitions). */
  hopTopic: string
  token(sub: string): string
  /** POST /v1/conversations as an admin. */
  createGroup(conversationId: string, members: readonly string[]): Promise<void>
  stop(): Promise<void>
}

export async function startLatencyApp(
  name: string,
  env: Record<string, string> = {},
): Promise<LatencyApp> {
  const dir = await mkdtemp(join(tmpdir(), `imflow-bench-${name}-`))
  const config = loadConfig({
    ...process.env,
    IMFLOW_DATA_DIR: dir,
    IMFLOW_PORT: String(await freePort()),
    IMFLOW_KAFKA_PORT: String(await freePort()),
    IMFLOW_REGISTRY_PORT: String(await freePort()),
    IMFLOW_JWT_SECRET: SECRET,
    IMFLOW_PARTITIONS: '4',
    IMFLOW_TOPIC_PREFIX: `bench${Date.now().toString(36)}.`,
    ...env,
  })
  const app = await startApp(config, createLogger('warn'))
  const stop = async () => {
    await app.stop()
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const kafka = new KafkaClient({
      clientId: 'bench',
      brokers: [...app.infrastructure.kafkaBrokers],
      logLevel: logLevel.ERROR,
    })
    const hopTopic = `${config.topicPrefix}raw-hop`
    const admin = kafka.admin()
    await admin.connect()
    await createTopicsAndWait(admin, [{ topic: hopTopic, numPartitions: 4 }])
    await admin.disconnect()
    const token = (sub: string) => issueToken({ sub }, SECRET)
    return {
      app,
      config,
      kafka,
      hopTopic,
      token,
      async createGroup(conversationId, members) {
        // A busy machine makes the app shed load (503, Retry-After): ask again, a bounded number of times.
        for (let attempt = 1; ; attempt++) {
          const res = await fetch(`${app.url}/v1/conversations`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${issueToken({ sub: 'root', role: 'admin' }, SECRET)}`,
            },
            body: JSON.stringify({ conversationId, type: 'GROUP', members }),
          })
          if (res.status === 201) return
          if (res.status !== 503 || attempt === 30)
            throw new Error(`creating ${conversationId} answered ${res.status}`)
          const wait = Number(res.headers.get('retry-after') ?? 1)
          await new Promise((r) => setTimeout(r, 1000 * Math.min(10, Math.max(1, wait))))
        }
      },
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}
