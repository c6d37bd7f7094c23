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
//
// IMFLOW_SOAK_DIR names the run's folder (default: a new one in the temp folder). Ctrl-C
// pauses a run (the app and the broker SIGKILLed, as a fault would); the same command with the
// same IMFLOW_SOAK_DIR resumes it, as it does a run cut off by anything else (soak-run-state.ts).

// First, before kafkajs loads (ops/kafkajs-fixes.ts).
import '../ops/kafkajs-fixes.js'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Kafka, Kafka as KafkaClient, logLevel, Partitioners } from 'kafkajs'
import { type ContractCodecs, registerContract } from '../schemas/contract.js'
import { registrySchemaSource } from '../schemas/schema-source.js'
import type { Receipt } from '../schemas/types.generated.js'
import { committed, topicEnds, waitFor } from './broker.js'
import {
  type SoakApp,
  type SoakBroker,
  soakRegistry,
  startSoakApp,
  startSoakBroker,
} from './soak-cluster.js'
import { killLeftovers, type RunState, readRunState, saveRunState } from './soak-run-state.js'
import { verdict } from './soak-verdict.js'
import { imWorkload, random, type Workload } from './workload.js'

const RUN_DIR = process.env.IMFLOW_SOAK_DIR
/** A run in IMFLOW_SOAK_DIR goes on with the settings it was started with. */
const resumed = RUN_DIR ? readRunState(RUN_DIR) : undefined
const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const MESSAGES = resumed?.settings.messages ?? num('IMFLOW_SOAK_MESSAGES', 1_000_000)
const APP_KILLS = resumed?.settings.appKills ?? num('IMFLOW_SOAK_APP_KILLS', 20)
const BROKER_RESTARTS = resumed?.settings.brokerRestarts ?? num('IMFLOW_SOAK_BROKER_RESTARTS', 3)
const RATE = resumed?.settings.rate ?? num('IMFLOW_SOAK_RATE', 400)
const USERS = resumed?.settings.users ?? num('IMFLOW_SOAK_USERS', 2_000)
const GROUPS = resumed?.settings.groups ?? num('IMFLOW_SOAK_GROUPS', 200)
const SEED = resumed?.settings.seed ?? num('IMFLOW_SOAK_SEED', 17)
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
  registry: { url: string; pid?: number; stop(): Promise<void> }
  app: SoakApp
  kafka: Kafka
  codecs: ContractCodecs
  topic: (base: string) => string
}

/** The broker, the registry, imflow and a client of the run's own. */
async function startRun(dir: string, prefix: string): Promise<Run> {
  const broker = await startSoakBroker(dir)
  const registry = await soakRegistry(dir)
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

/** Resolves after `ms`, or as soon as the run is paused. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const wake = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', wake)
      resolve()
    }
    const timer = setTimeout(wake, ms)
    signal.addEventListener('abort', wake)
  })
}

/** The messages from `from` on at RATE, in batches of a tenth of a second, a garbage record every 1,000. */
async function sendMessages(
  run: Run,
  out: Writer,
  workload: Workload,
  counts: { sent: number },
  from: number,
  signal: AbortSignal,
): Promise<void> {
  const start = Date.now()
  const batch = Math.max(1, Math.round(RATE / 10))
  for (let i = from; i < MESSAGES; i += batch) {
    const due = start + ((i - from) / RATE) * 1000
    if (due > Date.now()) await sleep(due - Date.now(), signal)
    if (signal.aborted) return
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
    if (Math.floor((i + batch) / 1_000) > Math.floor(i / 1_000))
      messages.push({ key: workload.messages[i]?.conversationId ?? 'g0', value: GARBAGE })
    await out.send(run.topic('im.ingest'), messages)
    counts.sent = Math.min(MESSAGES, i + batch)
  }
}

/** The faults not done yet, one after another, each at a random point of its share of `ms`. */
async function injectFaults(
  run: Run,
  plan: readonly Fault[],
  state: RunState,
  ms: number,
  signal: AbortSignal,
): Promise<void> {
  const done = state.faults
  const gap = ms / (plan.length - state.faultsDone + 1)
  for (let n = state.faultsDone; n < plan.length; n++) {
    await sleep(gap * (0.5 + random(SEED + n)()), signal)
    if (signal.aborted) return
    const kind = plan[n] as Fault
    const at = Date.now()
    const when = elapsed()
    if (kind === 'app') {
      await run.app.kill()
      done.push(`app SIGKILL at ${when}, ready again in ${((Date.now() - at) / 1000).toFixed(1)} s`)
    } else {
      const back = await run.broker.restart(2_000)
      done.push(`broker SIGKILL at ${when}, back after ${((back - at) / 1000).toFixed(1)} s`)
    }
    state.faultsDone++
    say(done.at(-1) as string)
  }
}

/** What im.ingest holds: the indices of the soak's messages written, and its garbage records. */
async function ingestSoFar(run: Run): Promise<{ written: Set<number>; garbage: number }> {
  const topic = run.topic('im.ingest')
  const admin = run.kafka.admin()
  await admin.connect()
  const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect())
  // Written by an idempotent producer, no transactions: each partition's last record is at high - 1.
  const last = new Map(
    ends
      .filter((p) => Number(p.high) > Number(p.low))
      .map((p) => [p.partition, Number(p.high) - 1]),
  )
  const written = new Set<number>()
  let garbage = 0
  if (last.size === 0) return { written, garbage }
  const consumer = run.kafka.consumer({ groupId: `soak-ingest-${Date.now()}` })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        const value = m.value as Buffer
        if (value.equals(GARBAGE)) garbage++
        else {
          const { clientMsgId } = await run.codecs['im.ingest'].decode(value)
          written.add(Number(clientMsgId.slice(2)))
        }
        if (Number(m.offset) >= (last.get(batch.partition) ?? Number.POSITIVE_INFINITY))
          last.delete(batch.partition)
      }
    },
  })
  try {
    await waitFor(async () => last.size === 0, 1_800_000)
  } finally {
    await consumer.disconnect()
  }
  return { written, garbage }
}

/**
 * Every message written decided and every fan-out record consumed by inbox and sync, or the
 * run paused.
 */
async function caughtUp(
  run: Run,
  receipts: Receipts,
  written: number,
  signal: AbortSignal,
): Promise<void> {
  await waitFor(
    async () => signal.aborted || receipts.accepted.size + receipts.refused.size >= written,
    3_600_000,
  )
  const admin = run.kafka.admin()
  await admin.connect()
  try {
    const fanout = run.topic('imflow-fanout')
    const end = () => topicEnds(admin, fanout)
    await waitFor(
      async () =>
        signal.aborted ||
        ((await committed(admin, run.topic('imflow-inbox'), fanout)) >= (await end()) &&
          (await committed(admin, run.topic('imflow-sync'), fanout)) >= (await end())),
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

/** SIGKILLs the app and the broker, as a fault would, and keeps the run for a resume. */
async function pauseRun(run: Run, state: RunState): Promise<void> {
  state.faults.push(`soak paused at ${elapsed()} of leg ${state.legs}: app and broker SIGKILLed`)
  await run.app.crash()
  await run.broker.crash()
  await run.registry.stop().catch(() => {})
  saveRunState(run.dir, state)
  say(`paused; to resume: IMFLOW_SOAK_DIR=${run.dir} npm run soak`)
  process.exitCode = 3
}

async function main(): Promise<void> {
  const dir = RUN_DIR ?? (await mkdtemp(join(tmpdir(), 'imflow-soak-')))
  await mkdir(dir, { recursive: true })
  const state: RunState = resumed
    ? { ...resumed, legs: resumed.legs + 1 }
    : {
        settings: {
          messages: MESSAGES,
          rate: RATE,
          users: USERS,
          groups: GROUPS,
          seed: SEED,
          appKills: APP_KILLS,
          brokerRestarts: BROKER_RESTARTS,
        },
        prefix: `soak-${Date.now().toString(36)}.`,
        faults: [],
        faultsDone: 0,
        legs: 1,
        sendSeconds: 0,
        totalSeconds: 0,
        pids: [],
      }
  say(
    `run folder ${dir}${resumed ? `, leg ${state.legs} (${killLeftovers(resumed.pids)} processes left by the last one SIGKILLed)` : ''}; ${MESSAGES} messages at ${RATE}/s, ${APP_KILLS} app kills, ${BROKER_RESTARTS} broker restarts`,
  )
  const run = await startRun(dir, state.prefix)
  const remember = () => {
    state.pids = [run.app.pid(), run.broker.pid(), run.registry.pid].filter(
      (pid): pid is number => pid !== undefined,
    )
    saveRunState(dir, state)
  }
  remember()
  const workload = imWorkload({ users: USERS, groups: GROUPS, messages: MESSAGES, seed: SEED })
  const receipts = readReceipts(run.kafka, run.topic('im.receipts'), (b) =>
    run.codecs['im.receipts'].decode(b),
  )
  const out = await writer(run.kafka)
  const pause = new AbortController()
  const onSignal = () => {
    say('pausing: the sends and faults stop, then the app and the broker are SIGKILLed')
    pause.abort()
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  // A resumed run goes on after the last message written (one cut off mid-batch is never sent).
  let from = 0
  if (resumed) for (const i of (await ingestSoFar(run)).written) from = Math.max(from, i + 1)
  const counts = { sent: from }
  const plan = faultPlan((MESSAGES / RATE) * 1000)
  const progress = setInterval(() => {
    remember()
    say(
      `sent ${counts.sent}/${MESSAGES}, accepted ${receipts.accepted.size}, refused ${receipts.refused.size}, faults ${state.faultsDone}/${plan.length}`,
    )
  }, 10_000)
  const legStarted = Date.now()
  try {
    if (!resumed) {
      await createGroups(run, out, workload)
      await new Promise((r) => setTimeout(r, 5_000))
    }
    const sendStart = Date.now()
    await Promise.all([
      sendMessages(run, out, workload, counts, from, pause.signal),
      injectFaults(run, plan, state, ((MESSAGES - from) / RATE) * 1000, pause.signal),
    ])
    state.sendSeconds += (Date.now() - sendStart) / 1000
    const paused = async () => {
      state.totalSeconds += (Date.now() - legStarted) / 1000
      // The clients first: with their broker gone they would retry for minutes.
      await out.disconnect().catch(() => {})
      await receipts.stop().catch(() => {})
      await pauseRun(run, state)
    }
    if (pause.signal.aborted) return await paused()
    const ingest = await ingestSoFar(run)
    say(`all sent (${ingest.garbage} garbage records among them); waiting for every receipt`)
    await caughtUp(run, receipts, ingest.written.size, pause.signal)
    if (pause.signal.aborted) return await paused()
    say('every topology caught up; checking through the API')
    state.totalSeconds += (Date.now() - legStarted) / 1000
    const { ok, report } = await verdict({
      url: run.app.url,
      secret: SECRET,
      accepted: receipts.accepted,
      refused: receipts.refused,
      workload,
      written: ingest.written,
      kafka: run.kafka,
      codecs: run.codecs,
      topic: run.topic,
      garbage: GARBAGE,
      garbageSent: ingest.garbage,
      faults: state.faults,
      settings: `${MESSAGES} messages offered at ${RATE}/s from ${USERS} users in ${GROUPS} groups (seed ${SEED}), ${PARTITIONS} partitions, ${APP_KILLS} app SIGKILLs and ${BROKER_RESTARTS} broker SIGKILL-restarts planned${state.legs > 1 ? `, run in ${state.legs} legs` : ''}`,
      sendSeconds: state.sendSeconds,
      totalSeconds: state.totalSeconds,
      appLog: join(dir, 'app.log'),
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
    if (!pause.signal.aborted) await stopRun(run)
  }
}

main()
  .catch((err) => {
    say(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    process.exitCode = 1
  })
  // Everything is awaited by now; a client kafkajs still retries toward a killed broker must not hold the exit.
  .finally(() => process.exit())
