// Units benchmark: how long moving a conversation to another unit takes with its history
// (docs/send-path.md, "Moving a conversation between units"), for conversations of 1,000 and
// 10,000 messages (IMFLOW_BENCH_MOVE_SIZES to choose), against the same run's raw kafkajs
// replay of the same ingest records (consume -> produce, no state, no transactions). Two units
// (two apps, unit 0 and 1, under their own prefixes) on KAFKA_BROKERS or embedded servers.
// The move's time runs from the PATCH to the answer of a message sent right after it: that
// message waits at the new home until the history is there. Usage: npm run bench -- units

import { issueToken } from '../connectors/http/jwt.js'
import { createTopicsAndWait } from '../ops/kafka-admin.js'
import { registerContract } from '../schemas/contract.js'
import { parseMsgId } from '../schemas/msg-id.js'
import { registrySchemaSource } from '../schemas/schema-source.js'
import type { SendMessage } from '../schemas/types.generated.js'
import { waitFor } from './broker.js'
import { type LatencyApp, startLatencyApp } from './latency-app.js'
import { passThrough } from './replay.js'
import { against, type BenchFigure, type BenchResult } from './result.js'

const SIZES = (process.env.IMFLOW_BENCH_MOVE_SIZES ?? '1000,10000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0)
const SECRET = 'bench-units-secret-0123456789abcdef'
const admin = issueToken({ sub: 'root', role: 'admin' }, SECRET)
const ann = issueToken({ sub: 'ann' }, SECRET)

async function call(app: LatencyApp, method: string, path: string, token: string, body: unknown) {
  return fetch(`${app.app.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  })
}

/** A message posted over the API, retried until it is accepted; its msgId. */
async function post(app: LatencyApp, conversationId: string, clientMsgId: string) {
  let msgId = ''
  await waitFor(async () => {
    const res = await call(app, 'POST', '/v1/messages', ann, {
      conversationId,
      clientMsgId,
      type: 'TEXT',
      body: clientMsgId,
    })
    if (res.status === 200) msgId = ((await res.json()) as { msgId: string }).msgId
    return res.status === 200
  }, 300_000)
  return msgId
}

export async function unitsBench(): Promise<BenchResult> {
  const run = `benchu${Date.now().toString(36)}`
  const [a, b] = [`${run}-a.`, `${run}-b.`]
  const env = { IMFLOW_JWT_SECRET: SECRET, IMFLOW_LARGE_GROUP_THRESHOLD: '2' }
  const zero = await startLatencyApp('units-0', {
    ...env,
    IMFLOW_TOPIC_PREFIX: a,
    IMFLOW_UNIT: '0',
    IMFLOW_REMOTE_UNITS: `1=${b}`,
  })
  let one: LatencyApp | undefined
  try {
    const { infrastructure } = zero.app
    one = await startLatencyApp('units-1', {
      ...env,
      KAFKA_BROKERS: infrastructure.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: infrastructure.schemaRegistryUrl,
      IMFLOW_TOPIC_PREFIX: b,
      IMFLOW_UNIT: '1',
      IMFLOW_REMOTE_UNITS: `0=${a}`,
    })
    const codecs = await registerContract(registrySchemaSource(infrastructure.schemaRegistryUrl), a)
    const producer = zero.kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    const moves: { size: number; seconds: number }[] = []
    let produced = 0
    for (const size of SIZES) {
      const cid = `move-${size}`
      // A large group (three members at this threshold): its messages carry a seq too.
      const created = await call(zero, 'POST', '/v1/conversations', admin, {
        conversationId: cid,
        type: 'GROUP',
        members: ['ann', 'bob', 'cat'],
      })
      if (created.status !== 201) throw new Error(`creating ${cid} answered ${created.status}`)
      await post(zero, cid, `${cid}-first`) // the group is known to unit 0
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
      await post(zero, cid, `${cid}-stored`) // behind all of them on their partition: all stored
      produced += 1
      const started = Date.now()
      const patched = await call(zero, 'PATCH', `/v1/conversations/${cid}`, admin, { unit: '1' })
      if (patched.status !== 202) throw new Error(`moving ${cid} answered ${patched.status}`)
      const probe = await post(zero, cid, `${cid}-after`)
      const seconds = (Date.now() - started) / 1000
      if (parseMsgId(probe).unit !== 1) throw new Error(`${cid} did not move: ${probe}`)
      moves.push({ size, seconds })
    }
    await producer.disconnect()

    const adminClient = zero.kafka.admin()
    await adminClient.connect()
    const out = `${a}units-pass-out`
    await createTopicsAndWait(adminClient, [{ topic: out, numPartitions: zero.config.partitions }])
    await adminClient.disconnect()
    const passSeconds = await passThrough(zero.kafka, `${a}im.ingest`, out, produced)
    const pass = {
      label: 'raw kafkajs replay of the ingest records',
      value: produced / passSeconds,
    }
    const figures: BenchFigure[] = [{ label: pass.label, value: pass.value, unit: 'records/s' }]
    const lines = [
      `units: a large group's history moved from unit 0 to unit 1 (two apps, ${zero.config.partitions} partitions each), from the PATCH to the answer of the next message`,
      `  ${pass.label} (baseline)  ${Math.round(pass.value)} records/s`,
    ]
    for (const { size, seconds } of moves) {
      const rate = size / seconds
      figures.push(against(`move of ${size} messages`, rate, 'messages/s', pass))
      lines.push(
        `  move of ${size} messages   ${seconds.toFixed(2)} s = ${Math.round(rate)} messages/s  = ${(rate / pass.value).toFixed(2)} x raw replay`,
      )
    }
    return { text: lines.join('\n'), figures }
  } finally {
    await one?.stop()
    await zero.stop()
  }
}
