// ImflowClient against a fake gateway (a plain `ws` server on 127.0.0.1 speaking the protocol)
// and a fake HTTP layer: it logs in with its device and last PTS, acks once applied, answers a
// Rebase by pulling the latest pages, backfills unknown conversations, reconnects with its
// last PTS, follows the user's home to the unit a 4002 names, and stops for a refused token or
// a replacing connection.

import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { type WebSocket, WebSocketServer } from 'ws'
import { ACK_EVERY_MS } from '../../connectors/client/frame-handler.js'
import type { ImflowHttp } from '../../connectors/client/http-api.js'
import { ImflowClient } from '../../connectors/client/index.js'
import type {
  ClientMessage,
  ConversationListEntry,
  HistoryMessage,
} from '../../connectors/client/types.js'
import { issueToken } from '../../connectors/http/jwt.js'
import type { ServerFrame } from '../../connectors/push-gateway/index.js'
import type { SyncEvent } from '../../schemas/types.generated.js'

const token = issueToken({ sub: 'ann' }, 'unit-secret')

interface Connection {
  socket: WebSocket
  query: URLSearchParams
  authorization: string | undefined
  acks: number[]
}

async function fakeGateway() {
  const connections: Connection[] = []
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: (info, done) =>
      info.req.headers.authorization === `Bearer ${token}` ? done(true) : done(false, 401),
  })
  await once(server, 'listening')
  server.on('connection', (socket, request) => {
    const connection: Connection = {
      socket,
      query: new URL(request.url ?? '', 'http://x').searchParams,
      authorization: request.headers.authorization,
      acks: [],
    }
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data))
      if (frame.type === 'ack') connection.acks.push(frame.pts)
    })
    connections.push(connection)
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections,
    send: (frame: ServerFrame, connection = connections.at(-1)) =>
      connection?.socket.send(JSON.stringify(frame)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate()
        server.close(() => resolve())
      }),
  }
}

/** A large group's whole sequence as the API holds it; `reloadPast`: its catch-up limit. */
interface FakeRoom {
  messages: HistoryMessage[]
  reloadPast?: number
}

function fakeHttp(
  list: ConversationListEntry[],
  pages: Record<string, HistoryMessage[]>,
  rooms: Record<string, FakeRoom> = {},
): ImflowHttp & { calls: string[] } {
  const calls: string[] = []
  return {
    calls,
    async conversations() {
      calls.push('conversations')
      return structuredClone(list)
    },
    async latestMessages(cid, limit) {
      calls.push(`messages ${cid} ${limit}`)
      // A conversation named down-… stands for one whose home (another geo) does not answer.
      if (cid.startsWith('down')) throw new Error(`the home of ${cid} does not answer`)
      return structuredClone(pages[cid] ?? [])
    },
    async messagesAfter(cid, after, limit) {
      calls.push(`after ${cid} ${after}`)
      const room = rooms[cid] ?? { messages: [] }
      const headSeq = room.messages.at(-1)?.seq ?? 0
      if (headSeq - after > (room.reloadPast ?? Number.POSITIVE_INFINITY))
        return { messages: [], headSeq, next: null, reload: true }
      const page = room.messages.filter((m) => (m.seq ?? 0) > after).slice(0, limit)
      const last = page.at(-1)?.seq ?? after
      return {
        messages: structuredClone(page),
        headSeq,
        next: last < headSeq ? last : null,
        reload: false,
      }
    },
    async send() {
      throw new Error('not used')
    },
  }
}

/** A large group's message as history pages and catch-up pages carry it. */
const sequenced = (seq: number): HistoryMessage => ({
  msgId: String(1_000 + seq),
  senderId: 'bob',
  type: 'TEXT',
  body: `m${seq}`,
  createdAt: 1_000 + seq,
  priority: 'HIGH',
  visibility: 'NORMAL',
  seq,
})

/** The room frame pushing that message. */
const roomFrame = (seq: number): ServerFrame => {
  const event = stored(String(1_000 + seq), 'big', 1_000 + seq)
  if (event.payload.kind === 'NewMessage') event.payload.message.seq = seq
  return { type: 'room', conversationId: 'big', seq, event }
}

const stored = (msgId: string, conversationId: string, createdAt: number): SyncEvent => ({
  priority: 'HIGH',
  payload: {
    kind: 'NewMessage',
    message: {
      msgId,
      conversationId,
      senderId: 'bob',
      clientMsgId: `c-${msgId}`,
      type: 'TEXT',
      body: `hi ${msgId}`,
      priority: 'HIGH',
      visibility: 'NORMAL',
      targets: [],
      createdAt,
      sentAt: createdAt,
      seq: 0,
    },
  },
})

/** Bounded polling, as in the integration tests. */
async function until<T>(check: () => T | undefined, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

const entry = (conversationId: string, unread = 0): ConversationListEntry => ({
  conversationId,
  type: 'GROUP',
  memberCount: 3,
  muted: false,
  large: false,
  unread,
  last: null,
})

describe('ImflowClient', () => {
  const cleanup: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step()
  })

  const setup = async (http: ImflowHttp, lastPts = 0) => {
    const gateway = await fakeGateway()
    const client = new ImflowClient({
      url: gateway.url,
      token,
      deviceId: 'ann-phone',
      deviceClass: 'DESKTOP',
      lastPts,
      http,
      pageSize: 20,
      reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
    })
    cleanup.push(
      () => gateway.close(),
      () => client.close(),
    )
    return { gateway, client }
  }

  it('logs in with its device, class and last PTS, and acks a frame only once it is applied', async () => {
    const { gateway, client } = await setup(fakeHttp([entry('c1')], {}), 7)
    await client.connect()
    const [connection] = gateway.connections
    expect(connection?.query.get('device')).toBe('ann-phone')
    expect(connection?.query.get('class')).toBe('DESKTOP')
    expect(connection?.query.get('lastPts')).toBe('7')
    expect(connection?.authorization).toBe(`Bearer ${token}`)

    let heldAtAck: readonly ClientMessage[] = []
    connection?.socket.on('message', () => {
      heldAtAck = [...client.messages('c1')]
    })
    gateway.send({
      type: 'events',
      events: [
        { pts: 6, event: stored('6', 'c1', 6) }, // already held: skipped
        { pts: 8, event: stored('8', 'c1', 8) },
        { pts: 9, event: stored('9', 'c1', 9) },
      ],
    })
    await until(() => (connection?.acks.length ? true : undefined), 'the ack')
    expect(connection?.acks).toEqual([9])
    expect(heldAtAck.map((m) => m.msgId)).toEqual(['8', '9'])
    expect(client.lastPts).toBe(9)
  })

  it('acks a burst of frames once, with the newest PTS, and a frame after it again', async () => {
    const { gateway, client } = await setup(fakeHttp([entry('c1')], {}), 0)
    await client.connect()
    const [connection] = gateway.connections
    for (let pts = 1; pts <= 20; pts++)
      gateway.send({ type: 'events', events: [{ pts, event: stored(String(pts), 'c1', pts) }] })
    await until(() => (connection?.acks.at(-1) === 20 ? true : undefined), 'the ack of 20')
    // One ack per ACK_EVERY_MS at most, so fewer than the frames (one each before), unless
    // every frame took that long to apply.
    expect(connection?.acks.length).toBeLessThan(20)
    expect(client.messages('c1')).toHaveLength(20)
    await new Promise((r) => setTimeout(r, 2 * ACK_EVERY_MS))
    gateway.send({ type: 'events', events: [{ pts: 21, event: stored('21', 'c1', 21) }] })
    await until(() => (connection?.acks.at(-1) === 21 ? true : undefined), 'the ack of 21')
  })

  it('answers a Rebase with the latest pages, acks the head and continues from it', async () => {
    const remote = (cid: string) => ({ ...entry(cid), remote: true })
    const farMessage: HistoryMessage = {
      msgId: '7',
      senderId: 'bob',
      type: 'TEXT',
      body: 'from another geo',
      createdAt: 7,
      priority: 'HIGH',
      visibility: 'NORMAL',
    }
    const http = fakeHttp([entry('c1', 2), remote('far'), remote('down')], {
      far: [farMessage],
      c1: [
        {
          msgId: '50',
          senderId: 'bob',
          type: 'TEXT',
          body: 'b',
          createdAt: 50,
          priority: 'HIGH',
          visibility: 'NORMAL',
        },
        {
          msgId: '40',
          senderId: 'bob',
          type: 'TEXT',
          body: 'a',
          createdAt: 40,
          priority: 'HIGH',
          visibility: 'NORMAL',
        },
      ],
    })
    const { gateway, client } = await setup(http, 3)
    const errors: Error[] = []
    client.on('error', (err) => errors.push(err))
    // Not events.once: it rejects on the 'error' the unanswered home reports.
    const rebased = new Promise((resolve) => client.once('rebase', (...args) => resolve(args)))
    await client.connect()
    gateway.send({ type: 'events', events: [{ pts: 4, event: stored('4', 'c1', 4) }] })
    gateway.send({ type: 'events', events: [{ pts: 5, event: stored('5', 'down', 5) }] })
    gateway.send({ type: 'rebase', headPts: 100 })
    // Pushes after the Rebase wait until its pulls are applied.
    gateway.send({ type: 'events', events: [{ pts: 101, event: stored('60', 'c1', 60) }] })
    expect(await rebased).toEqual([100])
    const connection = gateway.connections[0]
    await until(() => (connection?.acks.at(-1) === 101 ? true : undefined), 'the ack of 101')
    // Acks follow what is applied (a burst may share one): never the head before its pulls.
    const acks = connection?.acks ?? []
    expect(
      acks.every(
        (pts, i) => [4, 5, 100, 101].includes(pts) && (i === 0 || pts > (acks[i - 1] ?? 0)),
      ),
    ).toBe(true)
    // Conversations homed in another geo are pulled too (this API reads their home); one whose
    // home does not answer keeps what the device held, and the failure is reported.
    expect(http.calls.filter((call) => call.startsWith('messages')).sort()).toEqual([
      'messages c1 20',
      'messages down 20',
      'messages far 20',
    ])
    expect(client.messages('c1').map((m) => m.msgId)).toEqual(['40', '50', '60'])
    expect(client.messages('far').map((m) => m.msgId)).toEqual(['7'])
    expect(client.messages('down').map((m) => m.msgId)).toEqual(['5'])
    expect(errors.map((e) => e.message)).toEqual(['the home of down does not answer'])
    expect(
      client
        .conversations()
        .map((c) => c.conversationId)
        .sort(),
    ).toEqual(['c1', 'down', 'far'])
    expect(client.lastPts).toBe(101)
  })

  it('backfills a conversation first met in a push', async () => {
    const http = fakeHttp([entry('c1'), entry('new', 1)], {})
    const { gateway, client } = await setup(http)
    const described = once(client, 'conversation')
    await client.connect()
    gateway.send({ type: 'events', events: [{ pts: 1, event: stored('1', 'new', 1) }] })
    const [conversation] = await described
    expect(conversation).toMatchObject({
      conversationId: 'new',
      type: 'GROUP',
      memberCount: 3,
      described: true,
    })
    await client.settled()
    expect(client.conversation('c1')).toBeUndefined() // only what it asked about
  })

  it('after a move, pulls the latest page of a conversation whose row came after the reload', async () => {
    // The new home's list lacked g's row at the reload: the row comes as a MembershipChanged
    // push, and what was sent before it only from the API.
    const before: HistoryMessage = {
      msgId: 'm1',
      senderId: 'bob',
      type: 'TEXT',
      body: 'before the move',
      createdAt: 5,
      priority: 'HIGH',
      visibility: 'NORMAL',
    }
    const list = [entry('c1')]
    const http = fakeHttp(list, { g: [before] })
    const { gateway, client } = await setup(http)
    await client.connect()
    const home = await fakeGateway()
    cleanup.push(() => home.close())
    const reason = `ann is homed in unit 0: connect to its push gateway (${home.url})`
    gateway.connections[0]?.socket.close(4002, reason)
    await once(client, 'open')
    list.push(entry('g', 1))
    const joined: SyncEvent = {
      priority: 'HIGH',
      payload: { kind: 'MembershipChanged', conversationId: 'g', member: true },
    }
    home.send({
      type: 'events',
      events: [
        { pts: 1, event: joined },
        { pts: 2, event: stored('m2', 'g', 9) },
      ],
    })
    await until(() => (client.messages('g').length === 2 ? true : undefined), 'the pulled page')
    await client.settled()
    expect(client.messages('g').map((m) => m.msgId)).toEqual(['m1', 'm2'])
    expect(http.calls).toContain('messages g 20')
    expect(client.conversation('g')).toMatchObject({ unread: 1, last: { msgId: 'm2' } })
  })

  it('reconnects with its last PTS after the connection drops', async () => {
    const { gateway, client } = await setup(fakeHttp([entry('c1')], {}))
    await client.connect()
    gateway.send({ type: 'events', events: [{ pts: 5, event: stored('5', 'c1', 5) }] })
    await until(() => (gateway.connections[0]?.acks.length ? true : undefined), 'the ack')
    const closed = once(client, 'close')
    gateway.connections[0]?.socket.terminate()
    expect((await closed)[0]).toMatchObject({ reconnecting: true })
    await until(() => gateway.connections[1], 'the second connection')
    expect(gateway.connections[1]?.query.get('lastPts')).toBe('5')
  })

  it('does not reconnect when a newer connection of the device replaced it', async () => {
    const { gateway, client } = await setup(fakeHttp([], {}))
    await client.connect()
    const closed = once(client, 'close')
    gateway.connections[0]?.socket.close(4001, 'replaced by a newer connection')
    expect((await closed)[0]).toEqual({
      code: 4001,
      reason: 'replaced by a newer connection',
      reconnecting: false,
    })
    await new Promise((r) => setTimeout(r, 100)) // several backoff periods
    expect(gateway.connections).toHaveLength(1)
    expect(client.connected).toBe(false)
  })

  it('follows the user’s home when it moves: reloads, then connects there from PTS 0', async () => {
    const list = [entry('c1'), entry('c2')]
    const http = fakeHttp(list, {})
    const { gateway, client } = await setup(http, 7)
    await client.connect()
    gateway.send({ type: 'events', events: [{ pts: 8, event: stored('m0', 'c2', 8) }] })
    await until(() => (gateway.connections[0]?.acks.length ? true : undefined), 'the ack')
    const home = await fakeGateway()
    cleanup.push(() => home.close())
    const closed = once(client, 'close')
    const moved = once(client, 'moved')
    const reason = `ann is homed in unit 0: connect to its push gateway (${home.url})`
    http.calls.length = 0
    list.pop() // the new home's list lacks c2's moved row yet: what the device holds of it stays
    gateway.connections[0]?.socket.close(4002, reason)
    expect((await closed)[0]).toEqual({ code: 4002, reason, reconnecting: true })
    expect((await moved)[0]).toEqual({ url: home.url, reason })
    await once(client, 'open')
    expect(home.connections.map((c) => c.query.get('lastPts'))).toEqual(['0'])
    expect(http.calls).toEqual(['conversations', 'messages c1 20']) // reloaded before
    expect(client.lastPts).toBe(0)
    expect(gateway.connections).toHaveLength(1) // never back to the old home
    home.send({ type: 'events', events: [{ pts: 1, event: stored('m1', 'c2', 9) }] })
    await until(() => (home.connections[0]?.acks.length ? true : undefined), 'the ack')
    expect(home.connections[0]?.acks).toEqual([1])
    expect(client.messages('c2').map((m) => m.msgId)).toEqual(['m0', 'm1'])
  })

  it('does not reconnect when the user’s home moved to a unit whose API it is not told', async () => {
    const { gateway, client } = await setup(fakeHttp([], {}))
    await client.connect()
    const closed = once(client, 'close')
    const reason = 'ann is homed in unit 0: connect to its push gateway'
    gateway.connections[0]?.socket.close(4002, reason)
    expect((await closed)[0]).toEqual({ code: 4002, reason, reconnecting: false })
    await new Promise((r) => setTimeout(r, 100)) // several backoff periods
    expect(gateway.connections).toHaveLength(1)
  })

  it('fails to connect with a token the gateway refuses', async () => {
    const gateway = await fakeGateway()
    cleanup.push(() => gateway.close())
    const client = new ImflowClient({
      url: gateway.url,
      token: issueToken({ sub: 'ann' }, 'wrong-secret'),
      deviceId: 'ann-phone',
      http: fakeHttp([], {}),
    })
    await expect(client.connect()).rejects.toMatchObject({ code: 'IMF_ERR_UNAUTHORIZED' })
    await client.close()
    expect(gateway.connections).toHaveLength(0)
  })
  it('applies a large group’s room events in seq order, pulls a gap, drops repeats, acks none', async () => {
    const room = { messages: Array.from({ length: 8 }, (_, i) => sequenced(i + 1)) }
    const http = fakeHttp([], {}, { big: room })
    const { gateway, client } = await setup(http)
    await client.connect()
    const emitted: string[] = []
    client.on('messages', (messages) => emitted.push(...messages.map((m) => m.msgId)))
    gateway.send({ type: 'heads', conversations: [{ conversationId: 'big', seq: 2 }] })
    // never followed before: its latest page, and seq 2 from there
    await until(() => (client.seqs().big === 2 ? true : undefined), 'the heads frame')
    expect(http.calls).toEqual(['messages big 20'])
    gateway.send(roomFrame(3))
    gateway.send(roomFrame(3)) // a repeat
    gateway.send(roomFrame(6)) // 4 and 5 were missed
    gateway.send(roomFrame(5)) // came late: held already
    // the gap is pulled through the group's head (8), past the frame that showed it
    await until(() => (client.seqs().big === 8 ? true : undefined), 'seq 8')
    await client.settled()
    // (and the list, to describe the conversation first met in a push)
    expect(http.calls.filter((c) => c !== 'conversations')).toEqual([
      'messages big 20',
      'after big 3',
    ])
    expect(emitted).toEqual(['1003', '1004', '1005', '1006', '1007', '1008'])
    expect(client.messages('big').map((m) => m.msgId)).toEqual([
      '1003',
      '1004',
      '1005',
      '1006',
      '1007',
      '1008',
    ])
    expect(gateway.connections[0]?.acks).toEqual([])
  })

  it('catches up from a heads frame: the gap after each held seq, a reload past the limit, forgets groups not listed', async () => {
    const all = Array.from({ length: 30 }, (_, i) => sequenced(i + 1))
    const http = fakeHttp(
      [],
      { far: all.slice(-5).reverse() },
      {
        big: { messages: all },
        far: { messages: all, reloadPast: 10 },
      },
    )
    const gateway = await fakeGateway()
    const client = new ImflowClient({
      url: gateway.url,
      token,
      deviceId: 'ann-phone',
      http,
      pageSize: 20,
      seqs: { big: 4, far: 2, gone: 9 },
    })
    cleanup.push(
      () => gateway.close(),
      () => client.close(),
    )
    const reloads: [string, number][] = []
    client.on('reload', (cid, head) => reloads.push([cid, head]))
    await client.connect()
    gateway.send({
      type: 'heads',
      conversations: [
        { conversationId: 'big', seq: 30 },
        { conversationId: 'far', seq: 30 },
      ],
    })
    await until(
      () => (client.seqs().big === 30 && client.seqs().far === 30 ? true : undefined),
      'the catch-up',
    )
    await client.settled()
    // big: two pages after 4; far: 28 behind, past its limit of 10 — its latest page instead
    expect(client.messages('big').map((m) => m.seq)).toEqual(
      Array.from({ length: 26 }, (_, i) => i + 5),
    )
    expect(http.calls.filter((c) => c.startsWith('after big'))).toEqual([
      'after big 4',
      'after big 24',
    ])
    expect(reloads).toEqual([['far', 30]])
    expect(client.messages('far').map((m) => m.msgId)).toEqual([
      '1026',
      '1027',
      '1028',
      '1029',
      '1030',
    ])
    expect(client.seqs()).toEqual({ big: 30, far: 30 })
  })
})
