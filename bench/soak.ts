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

// First, before kafkajs loads (ops/kafkajs-read-committed.ts).
import '../ops/kafkajs-read-committed.js'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Kafka, Kafka as KafkaClient, logLevel, Partitioners } from 'kafkajs'
import { registerContract } from '../schemas/contract.js'
import { registrySchemaSource } from '../schemas/schema-source.js'
import type { Receipt } from '../schemas/types.generated.js'
import { committed, waitFor } from './broker.js'
import { soakRegistry, startSoakApp, startSoakBroker } from './soak-cluster.js'
import { verdict } from './soak-verdict.js'
import { imWorkload, random } from './workload.js'

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

/** Random fault times over the send phase, app kills and broker restarts mixed. */
function faultPlan(durationMs: number): ('app' | 'broker')[] {
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

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'imflow-soak-'))
  say(
    `run folder ${dir}; ${MESSAGES} messages at ${RATE}/s, ${APP_KILLS} app kills, ${BROKER_RESTARTS} broker restarts`,
  )
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
  const topic = (base: string) => `${prefix}${base}`
  const workload = imWorkload({ users: USERS, groups: GROUPS, messages: MESSAGES, seed: SEED })
  const receipts = readReceipts(kafka, topic('im.receipts'), (b) => codecs['im.receipts'].decode(b))
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  })
  await producer.connect()
  const sendRetrying = async (t: string, messages: { key: string; value: Buffer }[]) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await producer.send({ topic: t, acks: -1, messages })
      } catch (err) {
        if (attempt > 300) throw err
        await new Promise((r) => setTimeout(r, 1_000))
      }
    }
  }
  const now = Date.now()
  await sendRetrying(
    topic('im.conversations'),
    workload.groups.map((g) => ({
      key: g.id,
      value: codecs['im.conversations'].encode({
        conversationId: g.id,
        actorId: null,
        at: now,
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
  await new Promise((r) => setTimeout(r, 5_000))

  const durationMs = (MESSAGES / RATE) * 1000
  const plan = faultPlan(durationMs)
  let sent = 0
  let garbage = 0
  const faults: string[] = []
  const sendStart = Date.now()
  const sending = (async () => {
    const batch = Math.max(1, Math.round(RATE / 10))
    for (let i = 0; i < MESSAGES; i += batch) {
      const due = sendStart + (i / RATE) * 1000
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()))
      const messages = workload.messages.slice(i, i + batch).map((m, k) => ({
        key: m.conversationId,
        value: codecs['im.ingest'].encode({
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
        garbage++
      }
      await sendRetrying(topic('im.ingest'), messages)
      sent = Math.min(MESSAGES, i + batch)
    }
  })()
  const faulting = (async () => {
    const gap = durationMs / (plan.length + 1)
    for (const [n, kind] of plan.entries()) {
      await new Promise((r) => setTimeout(r, gap * (0.5 + random(SEED + n)())))
      const at = Date.now()
      const when = elapsed()
      if (kind === 'app') {
        await app.kill()
        faults.push(
          `app SIGKILL at ${when}, ready again in ${((Date.now() - at) / 1000).toFixed(1)} s`,
        )
      } else {
        const back = await broker.restart(2_000)
        faults.push(
          `broker SIGKILL at ${when}, back after ${((back - at) / 1000).toFixed(1)} s`,
        )
      }
      say(faults.at(-1) as string)
    }
  })()
  const progress = setInterval(() => {
    say(
      `sent ${sent}/${MESSAGES}, accepted ${receipts.accepted.size}, faults ${faults.length}/${plan.length}`,
    )
  }, 10_000)
  try {
    await Promise.all([sending, faulting])
    const sendSeconds = (Date.now() - sendStart) / 1000
    say(`all sent (${garbage} garbage records among them); waiting for every receipt`)
    await waitFor(async () => receipts.accepted.size + receipts.refused.size >= MESSAGES, 3_600_000)
    const admin = kafka.admin()
    await admin.connect()
    const ends = async (t: string) =>
      (await admin.fetchTopicOffsets(t)).reduce((s, p) => s + Number(p.high), 0)
    const fanout = `${prefix}imflow-fanout`
    await waitFor(
      async () =>
        (await committed(admin, `${prefix}imflow-inbox`, fanout)) >= (await ends(fanout)) &&
        (await committed(admin, `${prefix}imflow-sync`, fanout)) >= (await ends(fanout)),
      3_600_000,
    )
    await admin.disconnect()
    say('every topology caught up; checking through the API')
    const { ok, report } = await verdict({
      url: app.url,
      secret: SECRET,
      accepted: receipts.accepted,
      refused: receipts.refused,
      workload,
      kafka,
      codecs,
      topic,
      garbage: GARBAGE,
      garbageSent: garbage,
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
    await producer.disconnect().catch(() => {})
    await receipts.stop().catch(() => {})
    await app.stop().catch(() => {})
    await registry.stop().catch(() => {})
    await broker.stop().catch(() => {})
    if (process.exitCode) say(`kept the run folder for a look: ${dir}`)
    else await rm(dir, { recursive: true, force: true })
  }
}

main().catch((err) => {
  say(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  process.exitCode = 1
})
