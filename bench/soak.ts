// The soak (`npm run soak`, never in CI): N messages on the seeds' workload shape (lognormal
// senders, ~30 recipients a message) written to im.ingest of an `imflow start` on a broker of
// its own, while the app is SIGKILLed (and restarted) and the broker killed and restarted at
// random times. Then, through imflow's own API: every message accepted once (its receipts),
// every user's client holding each of their messages once with PTS in order, every
// conversation's history with each message once and each sender's in send order, and every
// dead letter one the soak asked for (a garbage record every 1,000 messages).
//
//   IMFLOW_SOAK_MESSAGES=1000000 IMFLOW_SOAK_APP_KILLS=20 IMFLOW_SOAK_BROKER_RESTARTS=3 npm run soak
//
// Also IMFLOW_SOAK_RATE (messages/s offered, default 400), IMFLOW_SOAK_USERS (default 2,000),
// IMFLOW_SOAK_GROUPS (default 200), IMFLOW_SOAK_SEED. The report goes to
// bench/results/soak-latest.md (docs/reliability.md quotes the last one).

// First, before kafkajs loads (ops/kafkajs-fixes.ts).
import '../ops/kafkajs-fixes.js'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Kafka, Kafka as KafkaClient, logLevel, Partitioners } from 'kafkajs'
import { type ContractCodecs, registerContract } from '../schemas/contract.js'
import { registrySchemaSource } from '../schemas/schema-source.js'
import type { Receipt } from '../schemas/types.generated.js'
import { committed, waitFor } from './broker.js'
import {
  type SoakApp,
  type SoakBroker,
  soakRegistry,
  startSoakApp,
  startSoakBroker,
} from './soak-cluster.js'
import { verdict } from './soak-verdict.js'
import { imWorkload, random, type Workload } from './workload.js'

const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const MESSAGES = num('IMFLOW_SOAK_MESSAGES', 1_000_000)
const APP_KILLS = num('IMFLOW_SOAK_APP_KILLS', 20)
const BROKER_RESTARTS = num('IMFLOW_SOAK_BROKER_RESTARTS', 3)
const RATE = num('IMFLOW_SOAK_RATE', 400)
const USERS = num('IMFLOW_SOAK_USERS', 2_000)
const GROUPS = num('IMFLOW_SOAK_GROUPS', 200)
const SEED = num('IMFLOW_SOAK_SEED', 17)
const PARTITIONS = 4
const GARBAGE = Buffer.from('soak: not an Avro record')
const SECRET = 'soak-secret-0123456789abcdef0123456789'

const started = Date.now()
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)}s`
const say = (line: string) => process.stderr.write(`soak ${elapsed()}: ${line}\n`)

/** Where one Accepted receipt came from: its msgId and its place on im.receipts. */
export interface AcceptedReceipt {
  msgId: string
  at: string
}

/** Each message's receipts, read all along: clientMsgId -> its Accepted receipts. */
function readReceipts(kafka: Kafka, topic: string, decode: (b: Buffer) => Promise<Receipt>) {
  const accepted = new Map<string, AcceptedReceipt[]>()
  const refused = new Map<string, string>()
  const consumer = kafka.consumer({
    groupId: `soak-receipts-${Date.now()}`,
    retry: { retries: 300 },
  })
  const ready = (async () => {
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        const r = await decode(message.value as Buffer)
        if (r.outcome.kind === 'Accepted') {
          const list = accepted.get(r.clientMsgId) ?? []
          list.push({ msgId: r.outcome.msgId, at: `${partition}@${message.offset}` })
          accepted.set(r.clientMsgId, list)
        } else refused.set(r.clientMsgId, r.outcome.kind)
      },
    })
  })()
  return { accepted, refused, ready, stop: () => consumer.disconnect() }
}

type Receipts = ReturnType<typeof readReceipts>

/** Random fault times over the send phase, app kills and broker restarts mixed. */
type Fault = 'app' | 'broker'

function faultPlan(durationMs: number): Fault[] {
  const rng = random(SEED + 1)
  const plan = [
    ...Array.from({ length: APP_KILLS }, () => ({ at: rng(), kind: 'app' as const })),
    ...Array.from({ length: BROKER_RESTARTS }, () => ({ at: rng(), kind: 'broker' as const })),
  ].sort((a, b) => a.at - b.at)
  say(
    `faults planned over ${(durationMs / 1000).toFixed(0)} s: ${plan.map((p) => p.kind).join(' ')}`,
  )
  return plan.map((p) => p.kind)
}

interface Run {
  dir: string
  broker: SoakBroker
  registry: { url: string; stop(): Promise<void> }
  app: SoakApp
  kafka: Kafka
  codecs: ContractCodecs
  topic: (base: string) => string
}

/** The broker, the registry, imflow and a client of the run's own. */
async function startRun(dir: string): Promise<Run> {
  const broker = await startSoakBroker(dir)
  const registry = await soakRegistry(dir)
  const prefix = `soak-${Date.now().toString(36)}.`
  const app = await startSoakApp(dir, {
    KAFKA_BROKERS: broker.brokers().join(','),
    SCHEMA_REGISTRY_URL: registry.url,
    IMFLOW_TOPIC_PREFIX: prefix,
    IMFLOW_DATA_DIR: join(dir, 'app'),
    IMFLOW_PARTITIONS: String(PARTITIONS),
    IMFLOW_STREAM_THREADS: '1',
    IMFLOW_JWT_SECRET: SECRET,
    // Every event of a user stays pullable, so the check reads each stream whole.
    IMFLOW_SYNC_RETENTION: String(Math.max(10_000, MESSAGES)),
    IMFLOW_MAX_EVENT_LOOP_LAG_MS: '0',
  })
  say(`imflow is up at ${app.url}`)
  const kafka = new KafkaClient({
    clientId: 'soak',
    brokers: broker.brokers(),
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 300, maxRetryTime: 2_000, retries: 30 },
  })
  const codecs = await registerContract(registrySchemaSource(registry.url), prefix)
  return { dir, broker, registry, app, kafka, codecs, topic: (base) => `${prefix}${base}` }
}

/** A producer that retries a send through outages (a duplicate is the receiver's to dedupe). */
async function writer(kafka: Kafka) {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  })
  await producer.connect()
  return {
    async send(topic: string, messages: { key: string; value: Buffer }[]): Promise<void> {
      for (let attempt = 0; ; attempt++) {
        try {
          await producer.send({ topic, acks: -1, messages })
          return
        } catch (err) {
          if (attempt > 300) throw err
          await new Promise((r) => setTimeout(r, 1_000))
        }
      }
    },
    disconnect: () => producer.disconnect(),
  }
}

type Writer = Awaited<ReturnType<typeof writer>>

async function createGroups(run: Run, out: Writer, workload: Workload): Promise<void> {
  const at = Date.now()
  await out.send(
    run.topic('im.conversations'),
    workload.groups.map((g) => ({
      key: g.id,
      value: run.codecs['im.conversations'].encode({
        conversationId: g.id,
        actorId: null,
        at,
        change: {
          kind: 'ConversationCreated',
          conversationType: 'GROUP',
          members: g.members,
          admins: [],
          unit: '',
        },
      }),
    })),
  )
}

/** The messages at RATE, in batches of a tenth of a second, a garbage record every 1,000. */
async function sendMessages(
  run: Run,
  out: Writer,
  workload: Workload,
  counts: { sent: number; garbage: number },
): Promise<void> {
  const start = Date.now()
  const batch = Math.max(1, Math.round(RATE / 10))
  for (let i = 0; i < MESSAGES; i += batch) {
    const due = start + (i / RATE) * 1000
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()))
    const messages = workload.messages.slice(i, i + batch).map((m, k) => ({
      key: m.conversationId,
      value: run.codecs['im.ingest'].encode({
        conversationId: m.conversationId,
        clientMsgId: `s-${i + k}`,
        senderId: m.senderId,
        type: 'TEXT',
        body: `s-${i + k}`,
        priority: 'HIGH',
        visibility: 'NORMAL',
        targets: [],
        sentAt: Date.now(),
      }),
    }))
    if (Math.floor((i + batch) / 1_000) > Math.floor(i / 1_000)) {
      messages.push({ key: workload.messages[i]?.conversationId ?? 'g0', value: GARBAGE })
      counts.garbage++
    }
    await out.send(run.topic('im.ingest'), messages)
    counts.sent = Math.min(MESSAGES, i + batch)
  }
}

/** The planned faults, one after another, each at a random point of its share of the time. */
async function injectFaults(run: Run, plan: readonly Fault[], done: string[]): Promise<void> {
  const gap = ((MESSAGES / RATE) * 1000) / (plan.length + 1)
  for (const [n, kind] of plan.entries()) {
    await new Promise((r) => setTimeout(r, gap * (0.5 + random(SEED + n)())))
    const at = Date.now()
    const when = elapsed()
    if (kind === 'app') {
      await run.app.kill()
      done.push(`app SIGKILL at ${when}, ready again in ${((Date.now() - at) / 1000).toFixed(1)} s`)
    } else {
      const back = await run.broker.restart(2_000)
      done.push(`broker SIGKILL at ${when}, back after ${((back - at) / 1000).toFixed(1)} s`)
    }
    say(done.at(-1) as string)
  }
}

/** Every message decided and every fan-out record consumed by inbox and sync. */
async function caughtUp(run: Run, receipts: Receipts): Promise<void> {
  await waitFor(async () => receipts.accepted.size + receipts.refused.size >= MESSAGES, 3_600_000)
  const admin = run.kafka.admin()
  await admin.connect()
  try {
    const fanout = run.topic('imflow-fanout')
    const end = async () =>
      (await admin.fetchTopicOffsets(fanout)).reduce((s, p) => s + Number(p.high), 0)
    await waitFor(
      async () =>
        (await committed(admin, run.topic('imflow-inbox'), fanout)) >= (await end()) &&
        (await committed(admin, run.topic('imflow-sync'), fanout)) >= (await end()),
      3_600_000,
    )
  } finally {
    await admin.disconnect()
  }
}

async function stopRun(run: Run): Promise<void> {
  await run.app.stop().catch(() => {})
  await run.registry.stop().catch(() => {})
  await run.broker.stop().catch(() => {})
  if (process.exitCode) say(`kept the run folder for a look: ${run.dir}`)
  else await rm(run.dir, { recursive: true, force: true })
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'imflow-soak-'))
  say(
    `run folder ${dir}; ${MESSAGES} messages at ${RATE}/s, ${APP_KILLS} app kills, ${BROKER_RESTARTS} broker restarts`,
  )
  const run = await startRun(dir)
  const workload = imWorkload({ users: USERS, groups: GROUPS, messages: MESSAGES, seed: SEED })
  const receipts = readReceipts(run.kafka, run.topic('im.receipts'), (b) =>
    run.codecs['im.receipts'].decode(b),
  )
  const out = await writer(run.kafka)
  const counts = { sent: 0, garbage: 0 }
  const faults: string[] = []
  const plan = faultPlan((MESSAGES / RATE) * 1000)
  const progress = setInterval(() => {
    say(
      `sent ${counts.sent}/${MESSAGES}, accepted ${receipts.accepted.size}, refused ${receipts.refused.size}, faults ${faults.length}/${plan.length}`,
    )
  }, 10_000)
  try {
    await createGroups(run, out, workload)
    await new Promise((r) => setTimeout(r, 5_000))
    const sendStart = Date.now()
    await Promise.all([sendMessages(run, out, workload, counts), injectFaults(run, plan, faults)])
    const sendSeconds = (Date.now() - sendStart) / 1000
    say(`all sent (${counts.garbage} garbage records among them); waiting for every receipt`)
    await caughtUp(run, receipts)
    say('every topology caught up; checking through the API')
    const { ok, report } = await verdict({
      url: run.app.url,
      secret: SECRET,
      accepted: receipts.accepted,
      refused: receipts.refused,
      workload,
      kafka: run.kafka,
      codecs: run.codecs,
      topic: run.topic,
      garbage: GARBAGE,
      garbageSent: counts.garbage,
      faults,
      settings: `${MESSAGES} messages offered at ${RATE}/s from ${USERS} users in ${GROUPS} groups (seed ${SEED}), ${PARTITIONS} partitions, ${APP_KILLS} app SIGKILLs and ${BROKER_RESTARTS} broker SIGKILL-restarts planned`,
      sendSeconds,
      totalSeconds: (Date.now() - started) / 1000,
    })
    const path = join('bench', 'results', 'soak-latest.md')
    await writeFile(path, report)
    process.stdout.write(`${report}\n`)
    say(`report written to ${path}`)
    process.exitCode = ok ? 0 : 1
  } finally {
    clearInterval(progress)
    await out.disconnect().catch(() => {})
    await receipts.stop().catch(() => {})
    await stopRun(run)
  }
}

main().catch((err) => {
  say(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  process.exitCode = 1
})
