// Two geos on one broker, each its own deployment (topic prefix eu. / us.): a message sent in
// eu to a group with a member whose home geo is us reaches that member's conversation list
// in the us deployment — forwarded once, as one record for the whole us share.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import { eventually, httpCall, startTestApp, unique, withAdmin } from './helpers.js'

const secret = 'geo-test-secret-0123456789abcdef'
const token = (sub: string, role?: string) => issueToken({ sub, ...(role ? { role } : {}) }, secret)

describe('geo split between two deployments', () => {
  const run = unique('geo')
  const eu = `${run}-eu.`
  const us = `${run}-us.`
  let euApp: RunningApp
  let usApp: RunningApp
  const stops: (() => Promise<void>)[] = []

  beforeAll(async () => {
    const a = await startTestApp(eu, {
      IMFLOW_JWT_SECRET: secret,
      IMFLOW_GEO: 'eu',
      IMFLOW_REMOTE_GEOS: `us=${us}`,
    })
    stops.push(a.stop)
    euApp = a.app
    const b = await startTestApp(us, {
      IMFLOW_JWT_SECRET: secret,
      IMFLOW_GEO: 'us',
      IMFLOW_REMOTE_GEOS: `eu=${eu}`,
    })
    stops.push(b.stop)
    usApp = b.app
  })
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop()
  })

  const call = (app: RunningApp, method: string, path: string, who: string, body?: unknown) =>
    httpCall(app.url, method, path, who, body)

  it('delivers to members in both geos, each share once', { timeout: 90_000 }, async () => {
    const admin = token('root', 'admin')
    expect((await call(euApp, 'PUT', '/v1/users/bob', admin, { geo: 'us' })).status).toBe(202)
    expect((await call(euApp, 'PUT', '/v1/users/ann', admin, { geo: 'eu' })).status).toBe(202)
    // The receivers' replicas of users' geos follow im.users within a fetch (100 ms); give
    // them ample time before the group forms, so bob's membership is forwarded too.
    await new Promise((r) => setTimeout(r, 2_000))
    expect(
      (
        await call(euApp, 'POST', '/v1/conversations', admin, {
          conversationId: 'atlantic',
          type: 'GROUP',
          members: ['ann', 'bob'],
        })
      ).status,
    ).toBe(201)
    const sent = await eventually(
      async () => {
        const res = await call(euApp, 'POST', '/v1/messages', token('ann'), {
          conversationId: 'atlantic',
          clientMsgId: 'hi-1',
          type: 'TEXT',
          body: 'hello across the ocean',
        })
        return res.status === 200 ? ((await res.json()) as { msgId: string }) : undefined
      },
      { what: 'the message to be accepted in eu' },
    )
    type Entry = {
      conversationId: string
      unread: number
      last: { msgId: string; preview: string } | null
      remote?: boolean
    }
    const listOf = async (app: RunningApp, who: string) => {
      const res = await call(app, 'GET', '/v1/conversations', token(who))
      expect(res.status).toBe(200)
      return ((await res.json()) as { conversations: Entry[] }).conversations
    }
    // bob (us) sees it in the us deployment; ann (eu) in eu.
    const bobs = await eventually(
      async () => {
        const list = await listOf(usApp, 'bob')
        return list.find((c) => c.conversationId === 'atlantic' && c.last) ? list : undefined
      },
      { timeoutMs: 30_000, what: 'bob’s us list to show the message' },
    )
    expect(bobs.find((c) => c.conversationId === 'atlantic')).toMatchObject({
      remote: true,
      unread: 1,
      last: { msgId: sent.msgId, preview: 'hello across the ocean' },
    })
    // ann's row (eu) is updated by her own inbox partition, in its own time.
    await eventually(
      async () =>
        (await listOf(euApp, 'ann')).find((c) => c.conversationId === 'atlantic')?.last?.msgId ===
        sent.msgId
          ? true
          : undefined,
      { what: 'ann’s eu list to show the message' },
    )
    // bob's share crossed as one forwarded record (the creation's membership change, then the message).
    const inbound = await withAdmin((admin) => admin.fetchTopicOffsets(`${us}imflow-inbound`))
    const forwarded = inbound.reduce((sum, p) => sum + Number(p.high), 0)
    expect(forwarded).toBeGreaterThanOrEqual(2)
    expect(forwarded).toBeLessThanOrEqual(4) // two records plus, at most, their transaction markers
    await new Promise((r) => setTimeout(r, 1_000))
    expect((await listOf(usApp, 'bob')).find((c) => c.conversationId === 'atlantic')?.unread).toBe(
      1,
    ) // processed once
  })
})
