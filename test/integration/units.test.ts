// Two units on one broker, each its own deployment (unit 0 under prefix …a., unit 1 under
// …b.): a message posted to unit 0 for a group homed in unit 1 is forwarded there once,
// processed and stored only there, and its receipt comes back to the API that waits on unit 0.

import { Partitioners } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import { registerContract } from '../../schemas/contract.js'
import { parseMsgId } from '../../schemas/msg-id.js'
import { registrySchemaSource } from '../../schemas/schema-source.js'
import { RECEIVER_STORES as STORES } from '../../topologies/model/index.js'
import { changelogTopic } from '../../topologies/runtime/index.js'
import { eventually, httpCall, testKafka, unique } from './helpers.js'
import { type Deployments, startUnits } from './units-support.js'

const secret = 'unit-test-secret-0123456789abcdef'
const token = (sub: string, role?: string) => issueToken({ sub, ...(role ? { role } : {}) }, secret)

type Read = { key: Buffer | null; headers: Record<string, string> }

/**
 * The committed records of some topics, read from their beginning by one consumer: at least
 * `atLeast[topic]` of each, and any extra that shows up in the following second.
 */
async function committedRecords(atLeast: Record<string, number>): Promise<Record<string, Read[]>> {
  const seen: Record<string, Read[]> = Object.fromEntries(Object.keys(atLeast).map((t) => [t, []]))
  const consumer = testKafka().consumer({ groupId: unique('units-reader'), readUncommitted: false })
  await consumer.connect()
  await consumer.subscribe({ topics: Object.keys(atLeast), fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(message.headers ?? {}))
        headers[name] = String(value)
      seen[topic]?.push({ key: message.key, headers })
    },
  })
  const short = () => Object.entries(atLeast).filter(([topic, n]) => (seen[topic]?.length ?? 0) < n)
  try {
    await eventually(() => (short().length === 0 ? true : undefined), {
      what: `records on ${short()
        .map(([t, n]) => `${t} (${seen[t]?.length} of ${n})`)
        .join(', ')}`,
    })
    // Give a duplicate, if there were one, the chance to show up.
    await new Promise((r) => setTimeout(r, 1_000))
  } finally {
    await consumer.disconnect()
  }
  return seen
}

/** A store's writes in its changelog: data records (key tag 0), not its tasks' restore markers. */
const storeWrites = (records: Read[] | undefined) =>
  (records ?? []).filter((r) => r.key?.[0] === 0).length

describe('units: a conversation homed in another unit', () => {
  const run = unique('units')
  const a = `${run}-a.`
  const b = `${run}-b.`
  let unit0: RunningApp
  let unit1: RunningApp
  let units: Deployments | undefined

  beforeAll(async () => {
    units = await startUnits([a, b], { IMFLOW_JWT_SECRET: secret }, { urls: false })
    ;[unit0, unit1] = units.apps as [RunningApp, RunningApp]
  })
  afterAll(async () => {
    await units?.stop()
  })

  type Page = { messages: { msgId: string; body: string }[] }
  const history = async (app: RunningApp, who: string) => {
    const res = await httpCall(app.url, 'GET', '/v1/conversations/far/messages', token(who))
    return res.status === 200 ? ((await res.json()) as Page) : undefined
  }
  const post = (clientMsgId: string) =>
    httpCall(unit0.url, 'POST', '/v1/messages', token('ann'), {
      conversationId: 'far',
      clientMsgId,
      type: 'TEXT',
      body: 'hello from unit 0',
    })

  it('is processed once in its home unit, and answered where it was posted', {
    timeout: 90_000,
  }, async () => {
    const admin = token('root', 'admin')
    const created = await httpCall(unit0.url, 'POST', '/v1/conversations', admin, {
      conversationId: 'far',
      type: 'GROUP',
      members: ['ann', 'bob'],
      unit: '1',
    })
    expect(created.status).toBe(201)
    // Both units know the group before anything is sent, so the one POST below is the only
    // message and the counts below are exact. Unit 1 learns it from unit 0's receiver, which
    // forwards the creation in the transaction that applies it: unit 1 knowing it is enough.
    await eventually(() => history(unit1, 'bob'), { what: 'unit 1 to know the group' })

    const res = await post('far-1')
    expect(res.status).toBe(200)
    const { msgId } = (await res.json()) as { msgId: string }
    expect(parseMsgId(msgId).unit).toBe(1) // assigned by the home unit

    const home = await eventually(
      async () => {
        const page = await history(unit1, 'bob')
        return page?.messages.length ? page : undefined
      },
      { what: 'the message in unit 1’s history' },
    )
    expect(home.messages).toEqual([expect.objectContaining({ msgId, body: 'hello from unit 0' })])

    // A retry is forwarded too, and the home unit's dedupe answers with the same msgId.
    const retry = await post('far-1')
    expect(retry.status).toBe(200)
    expect(((await retry.json()) as { msgId: string }).msgId).toBe(msgId)

    // Each POST crossed once; each got one receipt, on unit 0; unit 1 stored the message once
    // and unit 0 nothing of it (no log or dedupe entry, no id range). A store's changelog also
    // holds the restore marker its task wrote on opening: one record more, read before counting.
    const store = (prefix: string, name: string) =>
      changelogTopic(`${prefix}imflow`, 'receiver', name)
    const [aLog, aDedupe, aIds, bLog] = [
      store(a, STORES.messages),
      store(a, STORES.dedupe),
      store(a, STORES.ids),
      store(b, STORES.messages),
    ]
    const read = await committedRecords({
      [`${b}im.ingest`]: 2,
      [`${a}im.receipts`]: 2,
      [`${b}im.receipts`]: 2,
      [aLog]: 1,
      [aDedupe]: 1,
      [aIds]: 1,
      [bLog]: 2,
    })
    const forwarded = read[`${b}im.ingest`] ?? []
    expect(forwarded).toHaveLength(2)
    expect(forwarded.every((r) => r.headers['imflow-origin-unit'] === '0')).toBe(true)
    expect(new Set(forwarded.map((r) => r.headers['imflow-request-id'])).size).toBe(2)
    expect(read[`${a}im.receipts`]).toHaveLength(2)
    // Unit 1 keeps a copy of each Accepted receipt for its merge stage, which nobody waits on.
    expect(read[`${b}im.receipts`]).toHaveLength(2)
    expect(read[`${b}im.receipts`]?.every((r) => !('imflow-reply-to' in r.headers))).toBe(true)
    expect(storeWrites(read[bLog])).toBe(1)
    for (const topic of [aLog, aDedupe, aIds]) expect(storeWrites(read[topic])).toBe(0)
    expect((await history(unit1, 'bob'))?.messages.map((m) => m.msgId)).toEqual([msgId])
  })

  it('rejects a message for a group homed in a unit it does not know', async () => {
    const admin = token('root', 'admin')
    // The API refuses such a home up front; a producer writing the creation itself is not asked.
    const refused = await httpCall(unit0.url, 'POST', '/v1/conversations', admin, {
      conversationId: 'lost',
      type: 'GROUP',
      members: ['ann', 'bob'],
      unit: '7',
    })
    expect(refused.status).toBe(422)
    expect(await refused.json()).toMatchObject({ code: 'IMF_ERR_UNIT_UNREACHABLE' })
    const codecs = await registerContract(registrySchemaSource(inject('schemaRegistryUrl')), a)
    const producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    try {
      await producer.send({
        topic: `${a}im.conversations`,
        messages: [
          {
            key: 'lost',
            value: codecs['im.conversations'].encode({
              conversationId: 'lost',
              actorId: 'root',
              at: Date.now(),
              change: {
                kind: 'ConversationCreated',
                conversationType: 'GROUP',
                members: ['ann', 'bob'],
                admins: [],
                unit: '7',
              },
            }),
          },
        ],
      })
    } finally {
      await producer.disconnect()
    }
    // Until unit 0 has applied the creation the answer is UNKNOWN_CONVERSATION; then this.
    const problem = await eventually(
      async () => {
        const res = await httpCall(unit0.url, 'POST', '/v1/messages', token('ann'), {
          conversationId: 'lost',
          clientMsgId: 'lost-1',
          type: 'TEXT',
          body: 'anyone?',
        })
        const body = (await res.json()) as { code?: string; reason?: string; detail?: string }
        return res.status === 422 && body.reason === 'UNKNOWN_UNIT' ? body : undefined
      },
      { what: 'the message to be rejected with UNKNOWN_UNIT' },
    )
    expect(problem).toMatchObject({ code: 'IMF_ERR_REJECTED' })
    expect(problem.detail).toContain('homed in unit 7')
  })
})
