// Large groups and membership, end to end (threshold 3, so a group of 4 is large): a group that
// crosses the threshold either way while its members are online switches between per-user PTS
// and its own seq with every message delivered once; a member removed while offline or online
// gets nothing more of it; a user in 1,000 large groups logs in, follows them all, and pulls only
// the groups that moved while they were away.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ClientMessage, ImflowClient } from '../../connectors/client/index.js'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import { eventually, httpCall, startTestApp, unique } from './helpers.js'

const secret = 'big-membership-secret-0123456789abcdef'
const token = (sub: string, role?: string) => issueToken({ sub, ...(role ? { role } : {}) }, secret)
const admin = token('root', 'admin')

describe('large groups and membership', () => {
  const prefix = `${unique('bigm')}.`
  let app: RunningApp
  let stop: () => Promise<void>
  const clients: ImflowClient[] = []

  beforeAll(async () => {
    ;({ app, stop } = await startTestApp(prefix, {
      IMFLOW_JWT_SECRET: secret,
      IMFLOW_LARGE_GROUP_THRESHOLD: '3',
    }))
  }, 180_000)
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()))
    await stop?.()
  })

  const api = (method: string, path: string, body?: unknown, bearer = admin) =>
    httpCall(app.url, method, path, bearer, body)

  const device = (
    userId: string,
    from: { lastPts?: number; seqs?: Record<string, number> } = {},
  ) => {
    const client = new ImflowClient({
      url: app.url,
      token: token(userId),
      deviceId: `${userId}-phone`,
      ...from,
      reconnect: { initialDelayMs: 50, maxDelayMs: 1_000 },
    })
    clients.push(client)
    /** Every message the device was handed, by either path, in the order it came. */
    const got: string[] = []
    client.on('messages', (messages: ClientMessage[]) => got.push(...messages.map((m) => m.msgId)))
    client.on('events', (events) => {
      for (const { event } of events)
        if (event.payload.kind === 'NewMessage') got.push(event.payload.message.msgId)
    })
    return { client, got }
  }

  const send = (conversationId: string, senderId: string, clientMsgId: string) =>
    eventually(
      async () => {
        const res = await api(
          'POST',
          '/v1/messages',
          { conversationId, clientMsgId, type: 'TEXT', body: clientMsgId },
          token(senderId),
        )
        return res.status === 200 ? ((await res.json()) as { msgId: string }).msgId : undefined
      },
      { what: `${clientMsgId} to be accepted` },
    )

  const createGroup = async (conversationId: string, members: string[]) => {
    const res = await api('POST', '/v1/conversations', { conversationId, type: 'GROUP', members })
    expect(res.status).toBe(201)
  }

  const members = (cid: string, change: { add?: string[]; remove?: string[] }) =>
    api('POST', `/v1/conversations/${cid}/members`, change)

  /**
   * Waits until the receiver counts `count` members: a change is accepted (202) before it is
   * applied, and a message sent meanwhile may be sequenced before it, to the old members.
   */
  const memberCount = (cid: string, asMember: string, count: number) =>
    eventually(
      async () => {
        const res = await api('GET', `/v1/conversations/${cid}`, undefined, token(asMember))
        const entry = res.ok ? ((await res.json()) as { memberCount: number }) : undefined
        return entry?.memberCount === count ? true : undefined
      },
      { what: `${cid} to have ${count} members` },
    )

  it('switches a group between PTS and its seq as it crosses the threshold, delivering each message once', async () => {
    await createGroup('grow', ['ann', 'bob', 'cy'])
    const ann = device('ann')
    await ann.client.connect()
    const first = await send('grow', 'bob', 'g-1') // 3 members: small, per-user PTS
    await eventually(() => (ann.got.includes(first) ? true : undefined), { what: 'g-1' })
    expect(ann.client.seqs().grow).toBeUndefined()

    await members('grow', { add: ['dan'] }) // 4: large
    await eventually(() => (ann.client.seqs().grow === 0 ? true : undefined), {
      what: 'the device to follow grow once it is large',
    })
    const second = await send('grow', 'bob', 'g-2')
    await eventually(() => (ann.client.seqs().grow === 1 ? true : undefined), {
      what: 'g-2 by seq',
    })

    await members('grow', { remove: ['dan'] }) // 3 again: small
    await eventually(() => (ann.client.seqs().grow === undefined ? true : undefined), {
      what: 'the device to stop following grow',
    })
    const third = await send('grow', 'bob', 'g-3')
    await eventually(() => (ann.got.includes(third) ? true : undefined), { what: 'g-3' })
    await ann.client.settled()
    expect(ann.got).toEqual([first, second, third])
    expect(ann.client.messages('grow').map((m) => m.msgId)).toEqual([first, second, third])
  })

  it('gives a member removed while offline nothing more of the group', async () => {
    await createGroup('club', ['eve', 'fay', 'gus', 'hal', 'ida'])
    const eve = device('eve')
    await eve.client.connect()
    await eventually(() => (eve.client.seqs().club === 0 ? true : undefined), {
      what: 'eve to follow club',
    })
    const before = await send('club', 'fay', 'c-1')
    await eventually(() => (eve.got.includes(before) ? true : undefined), { what: 'c-1' })
    await eve.client.settled()
    const held = { lastPts: eve.client.lastPts, seqs: eve.client.seqs() }
    await eve.client.close()

    await members('club', { remove: ['eve'] })
    await memberCount('club', 'fay', 4)
    // From then on her list has no entry for it, caught up or not (what a gateway apart from
    // the API follows).
    const list = await api('GET', '/v1/conversations', undefined, token('eve'))
    const { conversations } = (await list.json()) as { conversations: { conversationId: string }[] }
    expect(conversations.map((c) => c.conversationId)).not.toContain('club')
    const after = await send('club', 'fay', 'c-2')
    const back = device('eve', held)
    await back.client.connect()
    // Her log-in's backlog says she left; the group is gone from her device, and so is c-2.
    await eventually(
      () =>
        back.client.conversation('club') === undefined && back.client.lastPts > held.lastPts
          ? true
          : undefined,
      {
        what: 'the membership change to reach eve',
      },
    )
    await back.client.settled()
    expect(back.client.seqs().club).toBeUndefined()
    expect(back.got).not.toContain(after)
    expect(back.client.messages('club')).toEqual([])
  })

  it('stops pushing a group to a member removed while online, before their own events say so', async () => {
    await createGroup('hall', ['kai', 'lea', 'max', 'ned', 'ola'])
    const kai = device('kai')
    const lea = device('lea')
    await Promise.all([kai.client.connect(), lea.client.connect()])
    await eventually(
      () => (kai.client.seqs().hall === 0 && lea.client.seqs().hall === 0 ? true : undefined),
      { what: 'kai and lea to follow hall' },
    )
    await members('hall', { remove: ['kai'] })
    await memberCount('hall', 'lea', 4)
    const after = await send('hall', 'lea', 'h-1')
    await eventually(() => (lea.got.includes(after) ? true : undefined), { what: 'h-1 at lea' })
    await eventually(() => (kai.client.conversation('hall') === undefined ? true : undefined), {
      what: 'kai’s own events to say he left',
    })
    await kai.client.settled()
    expect(kai.got).not.toContain(after)
  })

  it('lets a user in 1,000 large groups log in, follow them all, and pull only what moved', {
    timeout: 300_000,
  }, async () => {
    const groups = Array.from({ length: 1_000 }, (_, i) => `room-${i}`)
    for (let i = 0; i < groups.length; i += 50) {
      await Promise.all(
        groups.slice(i, i + 50).map(async (conversationId) => {
          const res = await api('POST', '/v1/conversations', {
            conversationId,
            type: 'GROUP',
            members: ['ivy', 'jo', 'kit', 'lu'],
          })
          expect(res.status).toBe(201)
        }),
      )
    }
    const ivy = device('ivy')
    await ivy.client.connect()
    await eventually(
      () => (Object.keys(ivy.client.seqs()).length === groups.length ? true : undefined),
      { timeoutMs: 180_000, what: 'ivy to follow 1,000 groups' },
    )
    await ivy.client.settled()
    const held = { lastPts: ivy.client.lastPts, seqs: ivy.client.seqs() }
    await ivy.client.close()

    const moved = groups.filter((_, i) => i % 100 === 7)
    const sent = []
    for (const cid of moved) sent.push(await send(cid, 'jo', `${cid}-m`))
    const back = device('ivy', held)
    await back.client.connect()
    await eventually(() => (back.got.length === moved.length ? true : undefined), {
      what: 'the ten messages sent while ivy was away',
    })
    await back.client.settled()
    expect(back.got.sort()).toEqual([...sent].sort())
    expect(Object.keys(back.client.seqs())).toHaveLength(groups.length)
    for (const cid of moved) expect(back.client.seqs()[cid]).toBe(1)
  })
})
