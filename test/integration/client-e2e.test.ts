// `imflow start` with the push gateway mounted on the API, and ImflowClient as a device: a
// device far behind gets a Rebase and pulls the latest pages over the real API, then gets new
// messages pushed; a delete-for-me reaches it as MessageDeleted; a second device of the same
// user receives the same pushes.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ImflowClient } from '../../connectors/client/index.js'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import { eventually, httpCall, startTestApp, unique } from './helpers.js'

const secret = 'client-e2e-secret-0123456789abcdef'
const token = (sub: string, role?: string) => issueToken({ sub, ...(role ? { role } : {}) }, secret)
const THRESHOLD = 5

describe('ImflowClient end to end', () => {
  const prefix = `${unique('client')}.`
  let app: RunningApp
  let stop: () => Promise<void>
  const clients: ImflowClient[] = []

  beforeAll(async () => {
    ;({ app, stop } = await startTestApp(prefix, {
      IMFLOW_JWT_SECRET: secret,
      IMFLOW_SYNC_REBASE_THRESHOLD: String(THRESHOLD),
      IMFLOW_SYNC_RETENTION: '50',
    }))
  })
  afterAll(async () => {
    for (const client of clients) await client.close()
    await stop?.()
  })

  const device = (user: string, deviceId: string, lastPts = 0) => {
    const client = new ImflowClient({
      url: app.url,
      token: token(user),
      deviceId,
      lastPts,
      reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
    })
    clients.push(client)
    return client
  }

  const send = (who: string, clientMsgId: string) =>
    eventually(
      async () => {
        const res = await httpCall(app.url, 'POST', '/v1/messages', token(who), {
          conversationId: 'crew',
          clientMsgId,
          type: 'TEXT',
          body: clientMsgId,
        })
        return res.status === 200 ? ((await res.json()) as { msgId: string }).msgId : undefined
      },
      { what: `${clientMsgId} to be accepted` },
    )

  it('rebases a far-behind device over the API, then pushes; deletions and two devices too', {
    timeout: 90_000,
  }, async () => {
    const created = await httpCall(app.url, 'POST', '/v1/conversations', token('root', 'admin'), {
      conversationId: 'crew',
      type: 'GROUP',
      members: ['ann', 'ben'],
    })
    expect(created.status).toBe(201)
    const backlog: string[] = []
    for (let i = 0; i < THRESHOLD + 3; i++) backlog.push(await send('ben', `early-${i}`))
    // ann's list knows the conversation and its newest message: the backlog was sequenced.
    await eventually(
      async () => {
        const res = await httpCall(app.url, 'GET', '/v1/conversations', token('ann'))
        const body = (await res.json()) as { conversations: { last: { msgId: string } | null }[] }
        return body.conversations[0]?.last?.msgId === backlog.at(-1) ? true : undefined
      },
      { what: "ann's conversation list" },
    )

    const phone = device('ann', 'ann-phone')
    let rebasedTo: number | undefined
    phone.on('rebase', (head) => {
      rebasedTo = head
    })
    await phone.connect()
    await eventually(() => rebasedTo, { what: 'the Rebase' })
    expect(rebasedTo).toBeGreaterThanOrEqual(backlog.length)
    expect(phone.messages('crew').map((m) => m.msgId)).toEqual(backlog)
    expect(phone.conversation('crew')).toMatchObject({ type: 'GROUP', memberCount: 2 })

    const desk = device('ann', 'ann-desk', rebasedTo)
    await desk.connect()
    const later = await send('ben', 'later')
    for (const client of [phone, desk]) {
      await eventually(() => (client.messages('crew').at(-1)?.msgId === later ? true : undefined), {
        what: `${client === phone ? 'the phone' : 'the desk'} to get the new message`,
      })
    }
    expect(phone.lastPts).toBeGreaterThan(rebasedTo as number)
    expect(phone.conversation('crew')?.last?.msgId).toBe(later)

    const deleted = await httpCall(
      app.url,
      'DELETE',
      `/v1/conversations/crew/messages/${later}`,
      token('ann'),
    )
    expect(deleted.status).toBe(202)
    await eventually(
      () => (phone.messages('crew').some((m) => m.msgId === later) ? undefined : true),
      { what: 'the deletion to reach the phone' },
    )
    expect(phone.conversation('crew')?.last?.msgId).toBe(backlog.at(-1))

    // The gateway reports what it holds and delivered on /metrics.
    const metrics = await fetch(`${app.url}/metrics`).then((r) => r.text())
    const value = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1])
    expect(value('imflow_gateway_connections')).toBe(clients.filter((c) => c.connected).length)
    expect(value('imflow_gateway_frames_delivered_total')).toBeGreaterThan(0)
    expect(value('imflow_gateway_envelopes_total')).toBeGreaterThanOrEqual(
      value('imflow_gateway_frames_delivered_total') / clients.length,
    )
  })
})
