// Geos and units together: eu, and us as two units (0 and 1) on one broker. eu knows one
// deployment of us (unit 0: IMFLOW_REMOTE_GEOS names one per geo), so bob's share of a message
// in eu reaches unit 0's inbound; bob is homed in unit 1, and unit 0 sends it on there. His
// conversation list, unread count and PTS stream are at unit 1.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import { eventually, unique } from './helpers.js'
import { callJson, startDeployments } from './units-support.js'

const secret = 'geo-units-secret-0123456789abcdef'
const token = (sub: string, role?: string) => issueToken({ sub, ...(role ? { role } : {}) }, secret)
const admin = token('root', 'admin')

describe('geos and units: a user homed in a unit of another geo', () => {
  const run = unique('geo-units')
  const [eu, us0, us1] = ['eu', 'us0', 'us1'].map((d) => `${run}-${d}.`) as [string, string, string]
  let apps: RunningApp[] = []
  let stop: () => Promise<void> = async () => {}

  beforeAll(async () => {
    ;({ apps, stop } = await startDeployments([eu, us0, us1], (i) => {
      const common = { IMFLOW_JWT_SECRET: secret }
      if (i === 0) return { ...common, IMFLOW_GEO: 'eu', IMFLOW_REMOTE_GEOS: `us=${us0}` }
      return {
        ...common,
        IMFLOW_GEO: 'us',
        IMFLOW_REMOTE_GEOS: `eu=${eu}`,
        IMFLOW_UNIT: String(i - 1),
        IMFLOW_REMOTE_UNITS: i === 1 ? `1=${us1}` : `0=${us0}`,
      }
    }))
  }, 240_000)
  afterAll(() => stop())

  it('gets his share at his unit, sent on once by the geo’s listed deployment', {
    timeout: 120_000,
  }, async () => {
    const [euApp, us0App, us1App] = apps as [RunningApp, RunningApp, RunningApp]
    // eu knows bob's geo; us's units know his unit.
    for (const [app, home] of [
      [euApp, { geo: 'us' }],
      [us0App, { geo: 'us', unit: '1' }],
      [us1App, { geo: 'us', unit: '1' }],
    ] as const)
      expect((await callJson(app, 'PUT', '/v1/users/bob', admin, home)).status).toBe(202)
    expect((await callJson(euApp, 'PUT', '/v1/users/ann', admin, { geo: 'eu' })).status).toBe(202)
    // The replicas of users' homes follow im.users within a fetch; ample time first.
    await new Promise((r) => setTimeout(r, 2_000))
    const created = await callJson(euApp, 'POST', '/v1/conversations', admin, {
      conversationId: 'pacific',
      type: 'GROUP',
      members: ['ann', 'bob'],
    })
    expect(created.status).toBe(201)
    const sent = await eventually(
      async () => {
        const res = await callJson<{ msgId: string }>(euApp, 'POST', '/v1/messages', token('ann'), {
          conversationId: 'pacific',
          clientMsgId: 'hi-1',
          type: 'TEXT',
          body: 'hello from eu',
        })
        return res.status === 200 ? res.body : undefined
      },
      { what: 'the message to be accepted in eu' },
    )
    type List = {
      conversations: { conversationId: string; unread: number; last: { msgId: string } | null }[]
    }
    const entry = await eventually(
      async () => {
        const { body } = await callJson<List>(us1App, 'GET', '/v1/conversations', token('bob'))
        const pacific = body.conversations?.find((c) => c.conversationId === 'pacific')
        return pacific?.last?.msgId === sent.msgId ? pacific : undefined
      },
      { timeoutMs: 60_000, what: 'the message in bob’s list at unit 1 of us' },
    )
    expect(entry.unread).toBe(1)
    // His stream is at unit 1: the message is sequenced there, once.
    const { body: sync } = await callJson<{
      events: { event: { payload: { kind: string; message?: { msgId: string } } } }[]
    }>(us1App, 'GET', '/v1/sync?device=bob-phone&after=0&limit=100', token('bob'))
    const news = (sync.events ?? []).filter(
      (e) => e.event.payload.kind === 'NewMessage' && e.event.payload.message?.msgId === sent.msgId,
    )
    expect(news).toHaveLength(1)
  })

  it('takes a user’s rows along to her unit when she moves to the other geo', {
    timeout: 120_000,
  }, async () => {
    const [euApp, us0App, us1App] = apps as [RunningApp, RunningApp, RunningApp]
    type List = { conversations: { conversationId: string; unread: number }[] }
    const unreadIn = async (app: RunningApp, who: string, cid: string) => {
      const { body } = await callJson<List>(app, 'GET', '/v1/conversations', token(who))
      return body.conversations?.find((c) => c.conversationId === cid)?.unread
    }
    expect(
      (
        await callJson(euApp, 'POST', '/v1/conversations', admin, {
          conversationId: 'atlantic',
          type: 'GROUP',
          members: ['ann', 'cat'],
        })
      ).status,
    ).toBe(201)
    await eventually(
      async () =>
        (
          await callJson(euApp, 'POST', '/v1/messages', token('ann'), {
            conversationId: 'atlantic',
            clientMsgId: 'to-cat',
            type: 'TEXT',
            body: 'before the move',
          })
        ).status === 200
          ? true
          : undefined,
      { what: 'the message to cat' },
    )
    await eventually(
      async () => ((await unreadIn(euApp, 'cat', 'atlantic')) === 1 ? true : undefined),
      {
        what: 'cat’s row in eu',
      },
    )
    // us's units learn her unit first, then eu her geo: her rows leave eu for us's unit 0.
    for (const app of [us0App, us1App])
      expect(
        (await callJson(app, 'PUT', '/v1/users/cat', admin, { geo: 'us', unit: '1' })).status,
      ).toBe(202)
    await new Promise((r) => setTimeout(r, 2_000))
    expect((await callJson(euApp, 'PUT', '/v1/users/cat', admin, { geo: 'us' })).status).toBe(202)
    await eventually(
      async () => ((await unreadIn(us1App, 'cat', 'atlantic')) === 1 ? true : undefined),
      { timeoutMs: 60_000, what: 'cat’s row, one unread, at unit 1 of us' },
    )
  })
})
