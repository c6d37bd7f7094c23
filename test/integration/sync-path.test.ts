// The sync path on the real broker: messages sent over HTTP reach devices as sequenced
// envelopes on im.sync; devices are simulated at the Kafka level (log-in, ack, log-out on
// im.device-events), as a push gateway would report them.

import { type Consumer, type Kafka, Partitioners, type Producer } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import { registerContract } from '../../schemas/contract.js'
import { registrySchemaSource } from '../../schemas/schema-source.js'
import type { DeviceEvent, Notification, SyncEnvelope } from '../../schemas/types.generated.js'
import { eventually, httpCall, startTestApp, testKafka, unique } from './helpers.js'

const secret = 'sync-test-secret-0123456789abcdef'
const token = (sub: string, role?: string) => issueToken({ sub, ...(role ? { role } : {}) }, secret)
const THRESHOLD = 30

describe('sync path', () => {
  const prefix = `${unique('sync')}.`
  const kafka: Kafka = testKafka()
  let app: RunningApp
  let stop: () => Promise<void>
  let producer: Producer
  let consumer: Consumer
  let codecs: Awaited<ReturnType<typeof registerContract>>
  const envelopes: SyncEnvelope[] = []
  const notifications: Notification[] = []

  beforeAll(async () => {
    ;({ app, stop } = await startTestApp(prefix, {
      IMFLOW_JWT_SECRET: secret,
      IMFLOW_SYNC_REBASE_THRESHOLD: String(THRESHOLD),
      IMFLOW_SYNC_RETENTION: '100',
      IMFLOW_SYNC_BATCH_SIZES: 'MOBILE=4,DESKTOP=100',
      IMFLOW_NOTIFY_WINDOW_MS: '3000',
    }))
    codecs = await registerContract(registrySchemaSource(inject('schemaRegistryUrl')), prefix)
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    consumer = kafka.consumer({ groupId: unique('sync-reader') })
    await consumer.connect()
    await consumer.subscribe({
      topics: [`${prefix}im.sync`, `${prefix}im.notify`],
      fromBeginning: true,
    })
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        if (topic.endsWith('im.sync'))
          envelopes.push(await codecs['im.sync'].decode(message.value as Buffer))
        else notifications.push(await codecs['im.notify'].decode(message.value as Buffer))
      },
    })
  })
  afterAll(async () => {
    await consumer?.disconnect()
    await producer?.disconnect()
    await stop?.()
  })

  const call = (method: string, path: string, who: string, body?: unknown) =>
    httpCall(app.url, method, path, token(who), body)
  const send = (who: string, conversationId: string, clientMsgId: string, priority = 'HIGH') =>
    eventually(
      async () => {
        const res = await call('POST', '/v1/messages', who, {
          conversationId,
          clientMsgId,
          type: 'TEXT',
          body: clientMsgId,
          priority,
        })
        return res.status === 200 ? ((await res.json()) as { msgId: string }).msgId : undefined
      },
      { what: `${clientMsgId} to be accepted` },
    )
  const device = async (userId: string, deviceId: string, event: DeviceEvent['event']) => {
    const value: DeviceEvent = { userId, deviceId, at: Date.now(), event }
    await producer.send({
      topic: `${prefix}im.device-events`,
      messages: [{ key: userId, value: codecs['im.device-events'].encode(value) }],
    })
  }
  const logIn = (
    userId: string,
    deviceId: string,
    lastPts: number,
    deviceClass: 'MOBILE' | 'DESKTOP',
  ) => device(userId, deviceId, { kind: 'LoggedIn', lastPts, deviceClass, gateway: 'test' })
  /** What the device was pushed: every envelope listing it, in order. */
  const received = (userId: string, deviceId: string) =>
    envelopes.filter((e) => e.userId === userId && e.deviceIds.includes(deviceId))
  const newMessages = (userId: string, deviceId: string) =>
    received(userId, deviceId).flatMap((e) =>
      e.content.kind === 'SyncBatch'
        ? e.content.events.flatMap((s) =>
            s.event.payload.kind === 'NewMessage'
              ? [{ pts: s.pts, msgId: s.event.payload.message.msgId }]
              : [],
          )
        : [],
    )
  const pts = (userId: string, deviceId: string) =>
    received(userId, deviceId).flatMap((e) =>
      e.content.kind === 'SyncBatch' ? e.content.events.map((s) => s.pts) : [],
    )

  it('pushes two devices the same events in the same PTS order, and a returning device exactly what it missed', {
    timeout: 90_000,
  }, async () => {
    const admin = token('root', 'admin')
    const created = await httpCall(app.url, 'POST', '/v1/conversations', admin, {
      conversationId: 'team',
      type: 'GROUP',
      members: ['ann', 'bob'],
    })
    expect(created.status).toBe(201)
    await logIn('bob', 'phone', 0, 'MOBILE')
    await logIn('bob', 'laptop', 0, 'DESKTOP')
    const first: string[] = []
    for (let i = 0; i < 6; i++) first.push(await send('ann', 'team', `a${i}`))
    const both = await eventually(
      () => {
        const phone = newMessages('bob', 'phone')
        return phone.length === 6 && newMessages('bob', 'laptop').length === 6 ? phone : undefined
      },
      { what: 'both devices to receive six messages' },
    )
    expect(both.map((m) => m.msgId)).toEqual(first)
    expect(newMessages('bob', 'laptop')).toEqual(both)
    // PTS strictly increasing on each device; the phone (MOBILE) gets envelopes of at most 4.
    for (const d of ['phone', 'laptop']) {
      const seen = pts('bob', d)
      expect(seen.every((p, i) => i === 0 || p > (seen[i - 1] as number))).toBe(true)
    }
    expect(
      received('bob', 'phone').every(
        (e) => e.content.kind !== 'SyncBatch' || e.content.events.length <= 4,
      ),
    ).toBe(true)

    // The phone acks everything it has, goes offline, misses three messages, comes back.
    const lastPts = Math.max(...pts('bob', 'phone'))
    await device('bob', 'phone', { kind: 'Acked', pts: lastPts })
    await device('bob', 'phone', { kind: 'LoggedOut', gateway: 'test' })
    await eventually(
      async () => {
        const res = await call('GET', '/v1/sync?device=phone', 'bob')
        const page = (await res.json()) as { events: unknown[] }
        return res.status === 200 && page.events.length === 0 ? true : undefined
      },
      { what: 'the phone’s cursor to reach its ack' },
    )
    const missed: string[] = []
    for (let i = 0; i < 3; i++) missed.push(await send('ann', 'team', `b${i}`))
    await eventually(() => (newMessages('bob', 'laptop').length === 9 ? true : undefined), {
      what: 'the laptop to receive the three new messages',
    })
    expect(newMessages('bob', 'phone')).toHaveLength(6)
    await logIn('bob', 'phone', lastPts, 'MOBILE')
    const back = await eventually(
      () =>
        newMessages('bob', 'phone').length === 9 ? newMessages('bob', 'phone').slice(6) : undefined,
      { what: 'the phone to receive what it missed' },
    )
    expect(back.map((m) => m.msgId)).toEqual(missed)
    expect(back.every((m) => m.pts > lastPts)).toBe(true)

    // The same events can be pulled over the API after any PTS.
    const res = await call('GET', `/v1/sync?after=${lastPts}`, 'bob')
    expect(res.status).toBe(200)
    const page = (await res.json()) as {
      headPts: number
      rebase: boolean
      events: { pts: number; event: { payload: { kind: string; message?: { msgId: string } } } }[]
    }
    expect(page.rebase).toBe(false)
    expect(page.events.map((e) => e.event.payload.message?.msgId)).toEqual(missed)
    expect(page.headPts).toBe(page.events.at(-1)?.pts)
  })

  it('gives a device with a backlog over the threshold one Rebase, then only new events', {
    timeout: 90_000,
  }, async () => {
    const admin = token('root', 'admin')
    await httpCall(app.url, 'POST', '/v1/conversations', admin, {
      conversationId: 'busy',
      type: 'GROUP',
      members: ['cy', 'dee'],
    })
    const ids: string[] = []
    for (let i = 0; i < THRESHOLD + 5; i++) ids.push(await send('cy', 'busy', `c${i}`))
    // Wait until the sync topology has sequenced them all for dee: her joining, then the messages.
    const head = await eventually(
      async () => {
        const page = (await (await call('GET', '/v1/sync?after=0&limit=1', 'dee')).json()) as {
          headPts: number
        }
        return page.headPts === THRESHOLD + 6 ? page.headPts : undefined
      },
      { what: 'dee’s events to be sequenced' },
    )
    await logIn('dee', 'tablet', 0, 'MOBILE')
    const rebase = await eventually(() => received('dee', 'tablet')[0], {
      what: 'the tablet’s first envelope',
    })
    expect(rebase.content).toEqual({ kind: 'Rebase', headPts: head })
    const after = await send('cy', 'busy', 'after-rebase')
    const next = await eventually(
      () => (newMessages('dee', 'tablet').length > 0 ? newMessages('dee', 'tablet') : undefined),
      {
        what: 'the tablet to receive the next message',
      },
    )
    expect(next).toEqual([{ pts: head + 1, msgId: after }])
    expect(received('dee', 'tablet').filter((e) => e.content.kind === 'Rebase')).toHaveLength(1)
  })

  it('tells a user with no device online about a burst in one notification', {
    timeout: 90_000,
  }, async () => {
    const admin = token('root', 'admin')
    await httpCall(app.url, 'POST', '/v1/conversations', admin, {
      conversationId: 'burst',
      type: 'GROUP',
      members: ['eve', 'fay'],
    })
    await Promise.all(Array.from({ length: 20 }, (_, i) => send('eve', 'burst', `e${i}`)))
    const note = await eventually(
      () => notifications.find((n) => n.userId === 'fay' && n.count === 20),
      {
        what: 'one notification counting 20 messages',
      },
    )
    expect(note.conversationIds).toEqual(['burst'])
    // Coalesced: no other notification for fay, none for the sender.
    await new Promise((r) => setTimeout(r, 2_000))
    expect(notifications.filter((n) => n.userId === 'fay')).toEqual([note])
    expect(notifications.filter((n) => n.userId === 'eve')).toEqual([])
  })
})
