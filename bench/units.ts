// Units benchmark (docs/units.md, "Moving a conversation between units"; docs/runbooks.md,
// "A unit lost"), against the same run's raw kafkajs replay of unit 0's ingest records
// (consume -> produce, no state, no transactions). Two units on KAFKA_BROKERS or embedded
// servers: unit 1 in this process, unit 0 as its own `imflow start` (units are separate
// deployments; and it is SIGKILLed at the end).
// - Moves: a large group's history of 1,000, 10,000 and 100,000 messages
//   (IMFLOW_BENCH_MOVE_SIZES) moved from unit 0 to unit 1, from the PATCH to the answer of a
//   message sent right after it (that message waits at the new home until the history is there).
// - Failover: unit 0 SIGKILLed, `imflow unit failover` on a standby: the standby ready, and the
//   first message accepted by it, against the raw replay of the unit's changelog records.
// Usage: npm run bench -- units

import { issueToken } from '../connectors/http/jwt.js'
import { createTopicsAndWait } from '../ops/kafka-admin.js'
import { registerContract } from '../schemas/contract.js'
import { parseMsgId } from '../schemas/msg-id.js'
import { registrySchemaSource } from '../schemas/schema-source.js'
import type { SendMessage } from '../schemas/types.generated.js'
import { waitFor } from './broker.js'
import { startLatencyApp } from './latency-app.js'
import { passThrough } from './replay.js'
import { against, type BenchFigure, type BenchResult } from './result.js'
import { startUnitProcess, type UnitProcess } from './unit-process.js'
import { type Failover, measureFailover } from './units-failover.js'

const SIZES = (process.env.IMFLOW_BENCH_MOVE_SIZES ?? '1000,10000,100000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0)
const SECRET = 'bench-units-secret-0123456789abcdef'
const admin = issueToken({ sub: 'root', role: 'admin' }, SECRET)
const ann = issueToken({ sub: 'ann' }, SECRET)

const caller = (token: string) => (url: string, method: string, path: string, body?: unknown) =>
  fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
const asAdmin = caller(admin)
const asAnn = caller(ann)

/** A message posted over the API, retried until it is accepted; its msgId. */
async function post(url: string, conversationId: string, clientMsgId: string) {
  let msgId = ''
  await waitFor(async () => {
    const res = await asAnn(url, 'POST', '/v1/messages', {
      conversationId,
      clientMsgId,
      type: 'TEXT',
      body: clientMsgId,
    })
    if (res.status === 200) msgId = ((await res.json()) as { msgId: string }).msgId
    return res.status === 200
  }, 600_000)
  return msgId
}

/** The newest message of the history at `url`: its seq says how many the group has. */
async function newestSeq(url: string, cid: string): Promise<number> {
  const res = await asAnn(url, 'GET', `/v1/conversations/${cid}/messages?limit=1`)
  const page = (await res.json()) as { messages: { seq?: number }[] }
  return page.messages[0]?.seq ?? 0
}

export async function unitsBench(): Promise<BenchResult> {
  const run = `benchu${Date.now().toString(36)}`
  const [a, b] = [`${run}-a.`, `${run}-b.`]
  // No peak shaving in the way: the history is filled at full speed, from one sender.
  const env = {
    IMFLOW_JWT_SECRET: SECRET,
    IMFLOW_LARGE_GROUP_THRESHOLD: '2',
    IMFLOW_SHAPING_CAPACITY: '1000000',
  }
  const one = await startLatencyApp('units-1', {
    ...env,
    IMFLOW_TOPIC_PREFIX: b,
    IMFLOW_UNIT: '1',
    IMFLOW_REMOTE_UNITS: `0=${a}`,
  })
  const { infrastructure } = one.app
  const unit0Env = {
    ...env,
    KAFKA_BROKERS: infrastructure.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: infrastructure.schemaRegistryUrl,
    IMFLOW_PARTITIONS: String(one.config.partitions),
    IMFLOW_TOPIC_PREFIX: a,
    IMFLOW_UNIT: '0',
    IMFLOW_REMOTE_UNITS: `1=${b}`,
  }
  let zero: UnitProcess | undefined
  const adminClient = one.kafka.admin()
  try {
    zero = await startUnitProcess(['start'], unit0Env)
    await adminClient.connect()
    const codecs = await registerContract(registrySchemaSource(infrastructure.schemaRegistryUrl), a)
    const producer = one.kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    const moves: { size: number; seconds: number }[] = []
    let produced = 0
    for (const size of SIZES) {
      const cid = `move-${size}`
      // A large group (three members at this threshold): its messages carry a seq too.
      const created = await asAdmin(zero.url, 'POST', '/v1/conversations', {
        conversationId: cid,
        type: 'GROUP',
        members: ['ann', 'bob', 'cat'],
      })
      if (created.status !== 201) throw new Error(`creating ${cid} answered ${created.status}`)
      await post(zero.url, cid, `${cid}-first`) // the group is known to unit 0
      for (let i = 0; i < size; i += 1_000) {
        const batch = Array.from({ length: Math.min(1_000, size - i) }, (_, j) => {
          const m: SendMessage = {
            conversationId: cid,
            clientMsgId: `${cid}-${i + j}`,
            senderId: 'ann',
            type: 'TEXT',
            body: `message ${i + j}`,
            priority: 'HIGH',
            visibility: 'NORMAL',
            targets: [],
            sentAt: Date.now(),
          }
          return { key: cid, value: codecs['im.ingest'].encode(m) }
        })
        await producer.send({ topic: `${a}im.ingest`, messages: batch })
      }
      produced += size + 1
      await post(zero.url, cid, `${cid}-stored`) // behind all of them on their partition: all stored
      produced += 1
      const stored = await newestSeq(zero.url, cid)
      if (stored !== size + 2) throw new Error(`${cid}: unit 0 stored ${stored} of ${size + 2}`)
      const started = Date.now()
      const patched = await asAdmin(zero.url, 'PATCH', `/v1/conversations/${cid}`, { unit: '1' })
      if (patched.status !== 202) throw new Error(`moving ${cid} answered ${patched.status}`)
      const probe = await post(zero.url, cid, `${cid}-after`)
      const seconds = (Date.now() - started) / 1000
      if (parseMsgId(probe).unit !== 1) throw new Error(`${cid} did not move: ${probe}`)
      // The whole history came: the message after the move is numbered after all of it.
      const moved = await newestSeq(one.app.url, cid)
      if (moved !== size + 3)
        throw new Error(`${cid}: unit 1's newest seq ${moved}, not ${size + 3}`)
      moves.push({ size, seconds })
    }
    await producer.disconnect()

    const out = `${a}units-pass-out`
    await createTopicsAndWait(adminClient, [{ topic: out, numPartitions: one.config.partitions }])
    const passSeconds = await passThrough(one.kafka, `${a}im.ingest`, out, produced)
    const pass = {
      label: 'raw kafkajs replay of the ingest records',
      value: produced / passSeconds,
    }

    const failover = await measureFailover({
      unit0: zero,
      unit0Env,
      unit1Url: one.app.url,
      prefix: a,
      admin: adminClient,
      call: { admin: asAdmin, ann: asAnn },
    })
    zero = failover.standby
    return report(one.config.partitions, pass, moves, failover)
  } finally {
    await adminClient.disconnect()
    await zero?.stop()
    await one.stop()
  }
}

function report(
  partitions: number,
  pass: { label: string; value: number },
  moves: readonly { size: number; seconds: number }[],
  failover: Failover,
): BenchResult {
  const figures: BenchFigure[] = [{ label: pass.label, value: pass.value, unit: 'records/s' }]
  const lines = [
    `units: two units (${partitions} partitions each, unit 0 its own process); a large group's history moved from unit 0 to unit 1, from the PATCH to the answer of the next message`,
    `  ${pass.label} (baseline)  ${Math.round(pass.value)} records/s`,
  ]
  for (const { size, seconds } of moves) {
    const rate = size / seconds
    figures.push(against(`move of ${size} messages`, rate, 'messages/s', pass))
    lines.push(
      `  move of ${size} messages   ${seconds.toFixed(2)} s = ${Math.round(rate)} messages/s  = ${(rate / pass.value).toFixed(3)} x raw replay`,
    )
  }
  // The failover's times against a raw replay of what the standby restores (the unit's changelogs).
  const replay = {
    label: `raw replay of unit 0's ${failover.changelogRecords} changelog records`,
    value: failover.changelogRecords / pass.value,
  }
  lines.push(`  failover: ${replay.label} at the baseline's rate  ${replay.value.toFixed(2)} s`)
  for (const [label, seconds] of [
    ['failover: standby ready after the SIGKILL', failover.readySeconds],
    ['failover: first message accepted by the standby', failover.firstAcceptedSeconds],
  ] as const) {
    figures.push(against(label, seconds, 's', replay))
    lines.push(
      `  ${label}   ${seconds.toFixed(1)} s  = ${(seconds / replay.value).toFixed(1)} x that replay's time`,
    )
  }
  return { text: lines.join('\n'), figures }
}
