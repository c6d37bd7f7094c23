// The push gateway alone on the real broker and registry: SyncEnvelopes written to im.sync
// reach the WebSockets of exactly the devices they list, a large group's RoomEvents on im.rooms
// reach its members' devices it holds, and devices' log-ins, acks and log-outs come out on
// im.device-events, keyed by user on Kafka's default partition.

import type { Consumer, Kafka, Producer } from 'kafkajs'
import { Partitioners } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import WebSocket from 'ws'
import { ImflowClient } from '../../connectors/client/index.js'
import { issueToken } from '../../connectors/http/jwt.js'
import {
  closeCodes,
  type RoomHead,
  type RunningPushGateway,
  type ServerFrame,
  startPushGateway,
} from '../../connectors/push-gateway/index.js'
import { createTopicsAndWait } from '../../ops/kafka-admin.js'
import { silentLogger } from '../../ops/log.js'
import { type ContractCodecs, registerContract } from '../../schemas/contract.js'
import { registrySchemaSource } from '../../schemas/schema-source.js'
import type {
  DeviceEvent,
  RoomEvent,
  SyncEnvelope,
  SyncEvent,
} from '../../schemas/types.generated.js'
import { partitionForKey } from '../../topologies/runtime/partitioner.js'
import { eventually, testKafka, unique, withAdmin } from './helpers.js'

const secret = 'gateway-test-secret-0123456789abcdef'
const PARTITIONS = 3

interface Device {
  socket: WebSocket
  /** What came in, but the heads frame every log-in starts with (see `heads`). */
  frames: ServerFrame[]
  heads: RoomHead[][]
  closed?: { code: number; reason: string }
}

describe('push gateway', () => {
  const prefix = `${unique('gw')}.`
  const topics = {
    sync: `${prefix}im.sync`,
    rooms: `${prefix}im.rooms`,
    deviceEvents: `${prefix}im.device-events`,
  }
  /** Each user's large groups, as the gateway's directory answers them. */
  const largeGroups = new Map<string, RoomHead[]>()
  const kafka: Kafka = testKafka()
  let codecs: ContractCodecs
  let gateway: RunningPushGateway
  let producer: Producer
  let consumer: Consumer
  const reported: { partition: number; key: string; event: DeviceEvent }[] = []
  const devices: Device[] = []

  beforeAll(async () => {
    await withAdmin((admin) =>
      createTopicsAndWait(admin, [
        { topic: topics.sync, numPartitions: PARTITIONS },
        { topic: topics.rooms, numPartitions: PARTITIONS },
        { topic: topics.deviceEvents, numPartitions: PARTITIONS },
      ]),
    )
    codecs = await registerContract(registrySchemaSource(inject('schemaRegistryUrl')), prefix)
    gateway = await startPushGateway({
      kafka,
      topics,
      codecs: {
        sync: codecs['im.sync'],
        rooms: codecs['im.rooms'],
        deviceEvents: codecs['im.device-events'],
      },
      rooms: {
        largeGroupsOf: async (userId) => largeGroups.get(userId) ?? [],
        largeGroup: async (userId, cid) =>
          largeGroups.get(userId)?.find((h) => h.conversationId === cid),
      },
      jwtSecret: secret,
      appId: unique('gw-app'),
      gatewayId: 'gw-1',
      log: silentLogger,
    })
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    consumer = kafka.consumer({ groupId: unique('gw-reader'), maxWaitTimeInMs: 100 })
    await consumer.connect()
    await consumer.subscribe({ topic: topics.deviceEvents, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        reported.push({
          partition,
          key: String(message.key),
          event: await codecs['im.device-events'].decode(message.value as Buffer),
        })
      },
    })
  })
  afterAll(async () => {
    for (const { socket } of devices) socket.terminate()
    await gateway?.stop()
    await consumer?.disconnect()
    await producer?.disconnect()
  })

  const wsUrl = (query: Record<string, string>) =>
    `${gateway.url.replace(/^http/, 'ws')}/v1/ws?${new URLSearchParams(query)}`

  /** Opens a device's connection; the token goes in the header unless `inQuery`. */
  const connect = async (
    user: string,
    device: string,
    { lastPts = 0, deviceClass = 'MOBILE', inQuery = false } = {},
  ): Promise<Device> => {
    const token = issueToken({ sub: user }, secret)
    const query = { device, lastPts: String(lastPts), class: deviceClass }
    const socket = inQuery
      ? new WebSocket(wsUrl({ ...query, token }))
      : new WebSocket(wsUrl(query), { headers: { authorization: `Bearer ${token}` } })
    const entry: Device = { socket, frames: [], heads: [] }
    devices.push(entry)
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as ServerFrame
      if (frame.type === 'heads') entry.heads.push(frame.conversations)
      else entry.frames.push(frame)
    })
    socket.on('close', (code, reason) => {
      entry.closed = { code, reason: String(reason) }
    })
    await new Promise((resolve, reject) => {
      socket.once('open', resolve)
      socket.once('error', reject)
    })
    return entry
  }

  const refusal = (url: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const socket = new WebSocket(url, { headers })
      socket.on('unexpected-response', (_req, res) => {
        let body = ''
        res.on('data', (chunk) => {
          body += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
      socket.on('open', () => reject(new Error('the gateway accepted the connection')))
      socket.on('error', () => {})
    })

  const text = (body: string): SyncEvent => ({
    priority: 'HIGH',
    payload: {
      kind: 'NewMessage',
      message: {
        msgId: String(1_000_000 + body.length),
        conversationId: 'c1',
        senderId: 'someone',
        clientMsgId: body,
        type: 'TEXT',
        body,
        priority: 'HIGH',
        visibility: 'NORMAL',
        targets: [],
        createdAt: 1_700_000_000_000,
        sentAt: 1_700_000_000_000,
        seq: 0,
      },
    },
  })

  const publish = async (envelope: Omit<SyncEnvelope, 'createdAt'>) => {
    await producer.send({
      topic: topics.sync,
      messages: [
        {
          key: envelope.userId,
          value: codecs['im.sync'].encode({ ...envelope, createdAt: Date.now() }),
        },
      ],
    })
  }

  const eventsOf = (user: string, device: string) =>
    reported.filter((r) => r.event.userId === user && r.event.deviceId === device)

  it('reports a log-in with its last PTS and class, keyed by user on the murmur2 partition', async () => {
    await connect('ann', 'ann-phone', { lastPts: 41, deviceClass: 'PAD' })
    const [loggedIn] = await eventually(
      () => (eventsOf('ann', 'ann-phone').length > 0 ? eventsOf('ann', 'ann-phone') : undefined),
      { what: "ann-phone's log-in" },
    )
    expect(loggedIn?.event.event).toEqual({
      kind: 'LoggedIn',
      lastPts: 41,
      deviceClass: 'PAD',
      gateway: 'gw-1',
    })
    expect(loggedIn?.key).toBe('ann')
    expect(loggedIn?.partition).toBe(partitionForKey('ann', PARTITIONS))
  })

  it('delivers an envelope to the devices it lists and to no other', async () => {
    const laptop = await connect('bo', 'bo-laptop', { deviceClass: 'DESKTOP' })
    const phone = await connect('bo', 'bo-phone', { inQuery: true })
    const stranger = await connect('cy', 'bo-laptop') // same device id, another user
    await eventually(() => (eventsOf('cy', 'bo-laptop').length > 0 ? true : undefined), {
      what: 'the log-ins',
    })

    await publish({
      userId: 'bo',
      deviceIds: ['bo-laptop'],
      content: {
        kind: 'SyncBatch',
        events: [
          { pts: 1, event: text('one') },
          { pts: 3, event: text('three') },
        ],
      },
    })
    await publish({
      userId: 'bo',
      deviceIds: ['bo-phone'],
      content: { kind: 'Rebase', headPts: 7 },
    })
    // Both envelopes are on bo's partition, in order: once the phone has the second, the
    // first has been delivered wherever it was going.
    await eventually(() => (phone.frames.length > 0 ? true : undefined), {
      what: "the phone's envelope",
    })
    expect(laptop.frames).toEqual([
      {
        type: 'events',
        events: [
          { pts: 1, event: text('one') },
          { pts: 3, event: text('three') },
        ],
      },
    ])
    expect(phone.frames).toEqual([{ type: 'rebase', headPts: 7 }])
    expect(stranger.frames).toEqual([])
  })

  it('turns an ack frame into Acked and a close into LoggedOut, in order', async () => {
    const device = await connect('dee', 'dee-web', { lastPts: 2, deviceClass: 'WEB' })
    device.socket.send(JSON.stringify({ type: 'ack', pts: 9 }))
    device.socket.send(JSON.stringify({ type: 'hello-from-the-future' })) // ignored
    device.socket.send(JSON.stringify({ type: 'ack', pts: 12 }))
    await eventually(
      () =>
        eventsOf('dee', 'dee-web').some(
          (r) => r.event.event.kind === 'Acked' && r.event.event.pts === 12,
        )
          ? true
          : undefined,
      { what: 'the second ack' },
    )
    device.socket.close()
    const kinds = await eventually(
      () => {
        const events = eventsOf('dee', 'dee-web').map((r) => r.event.event)
        return events.at(-1)?.kind === 'LoggedOut' ? events : undefined
      },
      { what: "dee-web's log-out" },
    )
    // Acks waiting together may be merged into the newest; never reordered.
    expect(kinds[0]).toMatchObject({ kind: 'LoggedIn', lastPts: 2, deviceClass: 'WEB' })
    const acks = kinds.slice(1, -1)
    expect(acks.every((e) => e.kind === 'Acked')).toBe(true)
    expect(acks.map((e) => (e.kind === 'Acked' ? e.pts : -1)).at(-1)).toBe(12)
    expect(kinds.at(-1)).toEqual({ kind: 'LoggedOut', gateway: 'gw-1' })
  })

  it('refuses connections without a valid token with a 401 problem', async () => {
    const noToken = await refusal(wsUrl({ device: 'x' }))
    expect(noToken.status).toBe(401)
    expect(JSON.parse(noToken.body)).toMatchObject({ code: 'IMF_ERR_UNAUTHORIZED' })
    const forged = issueToken({ sub: 'ann' }, 'another-secret-0000000000000000')
    expect((await refusal(wsUrl({ device: 'x', token: forged }))).status).toBe(401)
    expect(
      (await refusal(wsUrl({ device: 'x' }), { authorization: `Bearer ${forged}` })).status,
    ).toBe(401)
    // A valid token with a malformed query is a 400, not an open socket.
    const token = issueToken({ sub: 'ann' }, secret)
    expect((await refusal(wsUrl({ device: 'x', class: 'TOASTER', token }))).status).toBe(400)
    // So is a plain GET without the upgrade.
    const plain = await fetch(`${gateway.url}/v1/ws?device=x&token=${token}`)
    expect(plain.status).toBe(400)
    expect(await plain.json()).toMatchObject({ code: 'IMF_ERR_BAD_REQUEST' })
  })

  it('delivers one envelope listing two devices of a user to both', async () => {
    const phone = await connect('eve', 'eve-phone')
    const desk = await connect('eve', 'eve-desk', { deviceClass: 'DESKTOP' })
    await eventually(() => (eventsOf('eve', 'eve-desk').length > 0 ? true : undefined), {
      what: "eve-desk's log-in",
    })
    await publish({
      userId: 'eve',
      deviceIds: ['eve-phone', 'eve-desk'],
      content: { kind: 'SyncBatch', events: [{ pts: 5, event: text('both') }] },
    })
    const expected = { type: 'events', events: [{ pts: 5, event: text('both') }] }
    await eventually(() => (phone.frames.length && desk.frames.length ? true : undefined), {
      what: 'both devices to receive',
    })
    expect(phone.frames).toEqual([expected])
    expect(desk.frames).toEqual([expected])
  })

  it('lets a newer connection of a device replace the older, which logs nothing out', async () => {
    const older = await connect('fay', 'fay-phone', { lastPts: 1 })
    const newer = await connect('fay', 'fay-phone', { lastPts: 4 })
    await eventually(() => (older.closed ? true : undefined), { what: 'the older to close' })
    expect(older.closed).toEqual({
      code: closeCodes.replaced,
      reason: 'replaced by a newer connection',
    })
    await publish({
      userId: 'fay',
      deviceIds: ['fay-phone'],
      content: { kind: 'Rebase', headPts: 9 },
    })
    await eventually(() => (newer.frames.length ? true : undefined), { what: 'the newer frame' })
    expect(older.frames).toEqual([])
    // Device events are written in the order seen: had the older's close been reported, it
    // would come before this ack.
    newer.socket.send(JSON.stringify({ type: 'ack', pts: 9 }))
    const kinds = await eventually(
      () => {
        const events = eventsOf('fay', 'fay-phone').map((r) => r.event.event)
        return events.at(-1)?.kind === 'Acked' ? events : undefined
      },
      { what: "the newer's ack" },
    )
    expect(kinds).toEqual([
      { kind: 'LoggedIn', lastPts: 1, deviceClass: 'MOBILE', gateway: 'gw-1' },
      { kind: 'LoggedIn', lastPts: 4, deviceClass: 'MOBILE', gateway: 'gw-1' },
      { kind: 'Acked', pts: 9 },
    ])
    expect(gateway.gateway.stats().connections).toBeGreaterThan(0)
  })

  it('closes a connection that sends a malformed frame', async () => {
    const device = await connect('gus', 'gus-phone')
    device.socket.send('{not json')
    await eventually(() => (device.closed ? true : undefined), { what: 'the close' })
    expect(device.closed?.code).toBe(closeCodes.badFrame)
    await eventually(
      () =>
        eventsOf('gus', 'gus-phone').at(-1)?.event.event.kind === 'LoggedOut' ? true : undefined,
      { what: "gus-phone's log-out" },
    )
  })

  it('serves ImflowClient: a push is applied, acked and reported as Acked; close logs out', async () => {
    const client = new ImflowClient({
      url: gateway.url,
      token: issueToken({ sub: 'hal' }, secret),
      deviceId: 'hal-phone',
      deviceClass: 'WEB',
      lastPts: 2,
      // The standalone gateway serves no /v1/conversations: the list comes from a stand-in.
      http: {
        conversations: async () => [],
        latestMessages: async () => [],
        messagesAfter: async () => ({ messages: [], headSeq: 0, next: null, reload: false }),
        send: async () => ({ msgId: '0', createdAt: 0 }),
      },
    })
    await client.connect()
    await eventually(() => (eventsOf('hal', 'hal-phone').length > 0 ? true : undefined), {
      what: "hal-phone's log-in",
    })
    await publish({
      userId: 'hal',
      deviceIds: ['hal-phone'],
      content: {
        kind: 'SyncBatch',
        events: [
          { pts: 2, event: text('held already') },
          { pts: 3, event: text('new') },
        ],
      },
    })
    await eventually(
      () =>
        eventsOf('hal', 'hal-phone').some((r) => r.event.event.kind === 'Acked') ? true : undefined,
      { what: "the client's ack" },
    )
    expect(client.messages('c1').map((m) => m.body)).toEqual(['new'])
    await client.close()
    const events = await eventually(
      () => {
        const all = eventsOf('hal', 'hal-phone').map((r) => r.event.event)
        return all.at(-1)?.kind === 'LoggedOut' ? all : undefined
      },
      { what: "hal-phone's log-out" },
    )
    expect(events).toEqual([
      { kind: 'LoggedIn', lastPts: 2, deviceClass: 'WEB', gateway: 'gw-1' },
      { kind: 'Acked', pts: 3 },
      { kind: 'LoggedOut', gateway: 'gw-1' },
    ])
  })
  it('pushes a large group’s room events to the member devices it holds, after their heads', async () => {
    largeGroups.set('ivy', [{ conversationId: 'big', seq: 4 }])
    const phone = await connect('ivy', 'ivy-phone')
    const desk = await connect('ivy', 'ivy-desk', { deviceClass: 'DESKTOP' })
    const outsider = await connect('jon', 'jon-phone')
    await eventually(
      () => (phone.heads.length && desk.heads.length && outsider.heads.length ? true : undefined),
      { what: 'the heads frames' },
    )
    expect(phone.heads).toEqual([[{ conversationId: 'big', seq: 4 }]])
    expect(outsider.heads).toEqual([[]])
    const room = async (seq: number, body: string) => {
      const { payload } = text(body)
      if (payload.kind !== 'NewMessage') throw new Error('text() makes messages')
      const roomEvent: RoomEvent = {
        conversationId: 'big',
        seq,
        createdAt: Date.now(),
        event: {
          priority: 'HIGH',
          payload: { ...payload, message: { ...payload.message, conversationId: 'big', seq } },
        },
        removed: [],
      }
      await producer.send({
        topic: topics.rooms,
        messages: [{ key: 'big', value: codecs['im.rooms'].encode(roomEvent) }],
      })
      return { type: 'room', conversationId: 'big', seq, event: roomEvent.event }
    }
    const five = await room(5, 'five')
    await eventually(() => (phone.frames.length && desk.frames.length ? true : undefined), {
      what: 'the room event on both devices',
    })
    expect(phone.frames).toEqual([five])
    expect(desk.frames).toEqual([five])
    expect(outsider.frames).toEqual([])

    // jon joins: the membership change pushed to him makes the gateway look his groups up again.
    largeGroups.set('jon', [{ conversationId: 'big', seq: 5 }])
    await publish({
      userId: 'jon',
      deviceIds: ['jon-phone'],
      content: {
        kind: 'SyncBatch',
        events: [
          {
            pts: 1,
            event: {
              priority: 'LOW',
              payload: { kind: 'MembershipChanged', conversationId: 'big', member: true },
            },
          },
        ],
      },
    })
    await eventually(() => (outsider.heads.length > 1 ? true : undefined), { what: 'new heads' })
    expect(outsider.heads.at(-1)).toEqual([{ conversationId: 'big', seq: 5 }])
    const six = await room(6, 'six')
    await eventually(() => (outsider.frames.length > 1 ? true : undefined), { what: 'seq 6' })
    expect(outsider.frames.at(-1)).toEqual(six)
    expect(phone.frames).toEqual([five, six])
    expect(gateway.gateway.stats().roomEvents).toBeGreaterThanOrEqual(2)
  })
})
