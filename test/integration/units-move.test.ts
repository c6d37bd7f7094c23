// Moving a conversation between two units on one broker while its members keep sending: unit 0
// (…a.) homes a large group (its messages carry a seq), ann posts to it one message after the
// other, and halfway the group is moved to unit 1 (…b.). Unit 1's history then holds every
// accepted message once, in the order they were accepted, with the msgIds the API answered and
// seq 1..n without a gap: the history came along, and what was sent during the move waited for it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import { parseMsgId } from '../../schemas/msg-id.js'
import { eventually, httpCall, startTestApp, unique } from './helpers.js'

const secret = 'unit-move-secret-0123456789abcdef'
const token = (sub: string, role?: string) => issueToken({ sub, ...(role ? { role } : {}) }, secret)

type Page = { messages: { msgId: string; body: string; seq?: number }[] }

describe('units: moving a conversation under traffic', () => {
  const run = unique('units-move')
  const a = `${run}-a.`
  const b = `${run}-b.`
  let unit0: RunningApp
  let unit1: RunningApp
  const stops: (() => Promise<void>)[] = []

  beforeAll(async () => {
    // Three members make a large group at this threshold.
    const common = { IMFLOW_JWT_SECRET: secret, IMFLOW_LARGE_GROUP_THRESHOLD: '2' }
    const first = await startTestApp(a, {
      ...common,
      IMFLOW_UNIT: '0',
      IMFLOW_REMOTE_UNITS: `1=${b}`,
    })
    stops.push(first.stop)
    unit0 = first.app
    const second = await startTestApp(b, {
      ...common,
      IMFLOW_UNIT: '1',
      IMFLOW_REMOTE_UNITS: `0=${a}`,
    })
    stops.push(second.stop)
    unit1 = second.app
  })
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop()
  })

  const history = async (app: RunningApp) => {
    const res = await httpCall(
      app.url,
      'GET',
      '/v1/conversations/mv/messages?limit=200',
      token('bob'),
    )
    return res.status === 200 ? ((await res.json()) as Page) : undefined
  }
  const post = (n: number) =>
    httpCall(unit0.url, 'POST', '/v1/messages', token('ann'), {
      conversationId: 'mv',
      clientMsgId: `mv-${n}`,
      type: 'TEXT',
      body: `message ${n}`,
    })

  it('keeps every message once, in order, with its msgId and seq', {
    timeout: 180_000,
  }, async () => {
    const admin = token('root', 'admin')
    const created = await httpCall(unit0.url, 'POST', '/v1/conversations', admin, {
      conversationId: 'mv',
      type: 'GROUP',
      members: ['ann', 'bob', 'cat'],
    })
    expect(created.status).toBe(201)
    await eventually(() => history(unit0), { what: 'unit 0 to know the group' })

    // One message after the other, as a client does, while the move happens in between.
    const msgIds: string[] = []
    let movedAt: number | undefined
    const sendUntil = async (n: number) => {
      while (msgIds.length < n) {
        const res = await post(msgIds.length + 1)
        expect(res.status).toBe(200)
        msgIds.push(((await res.json()) as { msgId: string }).msgId)
      }
    }
    const traffic = (async () => {
      await sendUntil(25)
      // Keep sending until the move is done and then some: well after the PATCH returned.
      while (movedAt === undefined) await sendUntil(msgIds.length + 1)
      await sendUntil(movedAt + 25)
    })()
    await eventually(() => (msgIds.length >= 10 ? true : undefined), { what: '10 messages' })
    const moved = await httpCall(unit0.url, 'PATCH', '/v1/conversations/mv', admin, { unit: '1' })
    expect(moved.status).toBe(202)
    // Moved once unit 1 decides: a message's id names the unit that gave it.
    await eventually(
      () => {
        const last = msgIds.at(-1)
        if (last && parseMsgId(last).unit === 1) movedAt = msgIds.length
        return movedAt
      },
      { what: 'a message accepted by unit 1', timeoutMs: 90_000 },
    )
    await traffic

    const expected = msgIds.map((msgId, i) => ({ msgId, body: `message ${i + 1}`, seq: i + 1 }))
    const page = await eventually(
      async () => {
        const p = await history(unit1)
        return p && p.messages.length >= expected.length ? p : undefined
      },
      { what: `unit 1's history to hold ${expected.length} messages`, timeoutMs: 60_000 },
    )
    // Newest first: every accepted message once, in the order accepted, seq without a gap.
    expect(page.messages.map(({ msgId, body, seq }) => ({ msgId, body, seq })).reverse()).toEqual(
      expected,
    )
    expect(new Set(page.messages.map((m) => m.msgId)).size).toBe(expected.length)
    // Both units gave ids: the first ones unit 0 (kept as they were), the last ones unit 1.
    expect(parseMsgId(msgIds[0] as string).unit).toBe(0)
    expect(parseMsgId(msgIds.at(-1) as string).unit).toBe(1)

    // A retry of a message accepted before the move gets its first msgId.
    const retry = await post(1)
    expect(retry.status).toBe(200)
    expect(((await retry.json()) as { msgId: string }).msgId).toBe(msgIds[0])
  })
})
