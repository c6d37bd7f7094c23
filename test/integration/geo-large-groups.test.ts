// A large group homed in eu with members homed in us (two deployments, own app ids and APIs,
// on the shared broker; threshold 3, so a group of 4 is large): us members' devices, on us's
// gateway, get its messages by the conversation's seq from us's room, with nothing sequenced
// per user in us; their list in us shows it large at eu's seq; a device that was away catches
// up through us's API, which reads eu; a reaction's merged summary reaches them by us's room;
// a member removed gets nothing more of it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ClientMessage, ImflowClient } from '../../connectors/client/index.js'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import { eventually, httpCall, unique } from './helpers.js'
import { type Deployments, startGeos } from './units-support.js'

const secret = 'geo-large-secret-0123456789abcdef'
const token = (sub: string, role?: string) => issueToken({ sub, ...(role ? { role } : {}) }, secret)
const admin = token('root', 'admin')

describe('a large group with members homed in another geo', () => {
  const run = unique('geobig')
  const prefixes = [`${run}-eu.`, `${run}-us.`] as const
  let eu: RunningApp
  let us: RunningApp
  let geos: Deployments | undefined
  const clients: ImflowClient[] = []

  beforeAll(async () => {
    geos = await startGeos(prefixes, {
      IMFLOW_JWT_SECRET: secret,
      IMFLOW_LARGE_GROUP_THRESHOLD: '3',
      IMFLOW_MERGE_WINDOW_LARGE_MS: '1000',
    })
    ;[eu, us] = geos.apps as [RunningApp, RunningApp]
  }, 120_000)
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()))
    await geos?.stop()
  })

  /** A device on us's gateway: what came by the group's room, and what came in its PTS stream. */
  const usDevice = (userId: string) => {
    const client = new ImflowClient({
      url: us.url,
      token: token(userId),
      deviceId: `${userId}-phone`,
      reconnect: { initialDelayMs: 50, maxDelayMs: 1_000 },
    })
    clients.push(client)
    const byRoom: string[] = []
    const byPts: string[] = []
    client.on('messages', (messages: ClientMessage[]) =>
      byRoom.push(...messages.map((m) => m.msgId)),
    )
    client.on('events', (events) => {
      for (const { event } of events)
        if (event.payload.kind === 'NewMessage') byPts.push(event.payload.message.msgId)
    })
    return { client, byRoom, byPts }
  }

  const send = (clientMsgId: string) =>
    eventually(
      async () => {
        const res = await httpCall(eu.url, 'POST', '/v1/messages', token('ann'), {
          conversationId: 'atlas',
          clientMsgId,
          type: 'TEXT',
          body: clientMsgId,
        })
        return res.status === 200 ? ((await res.json()) as { msgId: string }).msgId : undefined
      },
      { what: `${clientMsgId} to be accepted in eu` },
    )

  it('pushes its messages to us devices by seq from us’s room, and lets a late one catch up through us', {
    timeout: 150_000,
  }, async () => {
    for (const uid of ['bob', 'cy']) {
      const res = await httpCall(eu.url, 'PUT', `/v1/users/${uid}`, admin, { geo: 'us' })
      expect(res.status).toBe(202)
    }
    await new Promise((r) => setTimeout(r, 2_000)) // eu's receivers' replica of users' geos
    const created = await httpCall(eu.url, 'POST', '/v1/conversations', admin, {
      conversationId: 'atlas',
      type: 'GROUP',
      members: ['ann', 'bob', 'cy', 'dan', 'eve'],
    })
    expect(created.status).toBe(201)

    const bob = usDevice('bob')
    await bob.client.connect()
    await eventually(() => (bob.client.seqs().atlas === 0 ? true : undefined), {
      what: 'bob’s device on us to follow atlas',
    })
    const sent = [await send('a-1'), await send('a-2'), await send('a-3')]
    await eventually(() => (bob.byRoom.length === 3 ? true : undefined), {
      what: 'the three messages at bob’s device',
    })
    await bob.client.settled()
    expect(bob.byRoom).toEqual(sent)
    expect(bob.byPts).toEqual([]) // nothing per user in us
    expect(bob.client.seqs().atlas).toBe(3)
    // His list in us shows the group as large, at eu's seq (what a gateway apart from the API follows).
    const list = await httpCall(us.url, 'GET', '/v1/conversations', token('bob'))
    const { conversations } = (await list.json()) as {
      conversations: { conversationId: string; large: boolean; seq?: number }[]
    }
    expect(conversations.find((c) => c.conversationId === 'atlas')).toMatchObject({
      large: true,
      seq: 3,
    })

    // cy was away: her device catches up through us's API, which reads eu's log.
    const cy = usDevice('cy')
    await cy.client.connect()
    await eventually(() => (cy.client.messages('atlas').length === 3 ? true : undefined), {
      what: 'cy’s device to catch up',
    })
    expect(cy.client.messages('atlas').map((m) => m.msgId)).toEqual(sent)
    expect(cy.client.seqs().atlas).toBe(3)

    // A reaction in eu: eu's merge sends its summary to us's room too, and cy's device shows it.
    const reacted = await httpCall(
      eu.url,
      'POST',
      `/v1/conversations/atlas/messages/${sent[0]}/reactions`,
      token('ann'),
      { emoji: '👍', op: 'add' },
    )
    expect(reacted.status).toBe(202)
    await eventually(
      () => (cy.client.messages('atlas')[0]?.reactions?.['👍'] === 1 ? true : undefined),
      { what: 'the reaction summary at cy’s device on us' },
    )

    // bob is removed: cy gets the next message, bob nothing more.
    const removed = await httpCall(eu.url, 'POST', '/v1/conversations/atlas/members', admin, {
      remove: ['bob'],
    })
    expect(removed.status).toBe(202)
    await eventually(
      async () => {
        const res = await httpCall(eu.url, 'GET', '/v1/conversations/atlas', token('ann'))
        return res.ok && ((await res.json()) as { memberCount: number }).memberCount === 4
          ? true
          : undefined
      },
      { what: 'the removal to be applied in eu' },
    )
    const after = await send('a-4')
    await eventually(() => (cy.byRoom.includes(after) ? true : undefined), { what: 'a-4 at cy' })
    await eventually(() => (bob.client.conversation('atlas') === undefined ? true : undefined), {
      what: 'bob’s own events to say he left',
    })
    await bob.client.settled()
    expect(bob.byRoom).not.toContain(after)
    expect(bob.byPts).toEqual([])
  })
})
