// Two geos with their own app ids (imflow-eu, imflow-us) on the shared broker, eu started
// first: us's inbound topic does not exist yet. eu says so at start (/readyz, metrics), keeps
// serving its own conversations, parks us's share of a message instead of failing its
// transaction, and sends it on, once, as soon as the us deployment is there.

import { afterAll, describe, expect, it } from 'vitest'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import { eventually, httpCall, startTestApp, unique } from './helpers.js'

const secret = 'geo-fwd-secret-0123456789abcdef'
const token = (sub: string, role?: string) => issueToken({ sub, ...(role ? { role } : {}) }, secret)

/** A metric's sample value for one label set, from the Prometheus text. */
async function sample(app: RunningApp, name: string, topic: string): Promise<number | undefined> {
  const text = await (await fetch(`${app.url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name}{topic="${topic}"}`))
  return line === undefined ? undefined : Number(line.split(' ').at(-1))
}

describe('forwarding to a geo whose topics do not exist yet', () => {
  const run = unique('geofwd')
  const eu = `${run}-eu.`
  const us = `${run}-us.`
  const usInbound = `${us}imflow-us-inbound`
  const stops: (() => Promise<void>)[] = []
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop()
  })

  const call = (app: RunningApp, method: string, path: string, who: string, body?: unknown) =>
    httpCall(app.url, method, path, who, body)
  const sendAs = (app: RunningApp, who: string, conversationId: string, clientMsgId: string) =>
    call(app, 'POST', '/v1/messages', token(who), {
      conversationId,
      clientMsgId,
      type: 'TEXT',
      body: clientMsgId,
    })

  it('parks the share, serves the rest, and sends it on once the geo exists', {
    timeout: 150_000,
  }, async () => {
    const euApp = await startTestApp(eu, {
      IMFLOW_JWT_SECRET: secret,
      IMFLOW_APP_ID: 'imflow-eu',
      IMFLOW_GEO: 'eu',
      IMFLOW_REMOTE_GEOS: `us=${us}:imflow-us`,
    })
    stops.push(euApp.stop)
    const e = euApp.app
    const ready = await fetch(`${e.url}/readyz`)
    expect(ready.status).toBe(503)
    const checks = ((await ready.json()) as { checks: Record<string, { detail?: string }> }).checks
    expect(checks.forward_targets?.detail).toContain(`${usInbound} (geo us) is missing`)
    expect(checks.forward_targets?.detail).toContain(`IMFLOW_TOPIC_PREFIX=${us}`)
    expect(await sample(e, 'imflow_forward_target_up', usInbound)).toBe(0)

    const admin = token('root', 'admin')
    expect((await call(e, 'PUT', '/v1/users/bob', admin, { geo: 'us' })).status).toBe(202)
    await new Promise((r) => setTimeout(r, 2_000)) // the receivers' replica of users' geos
    for (const [conversationId, members] of [
      ['atlantic', ['ann', 'bob']],
      ['home', ['ann', 'carl']],
    ] as const) {
      const res = await call(e, 'POST', '/v1/conversations', admin, {
        conversationId,
        type: 'GROUP',
        members,
      })
      expect(res.status).toBe(201)
    }
    // Both answered: the missing topic blocks neither the eu-only group nor the mixed one.
    for (const [cid, id] of [
      ['atlantic', 'a-1'],
      ['home', 'h-1'],
    ] as const) {
      await eventually(
        async () => ((await sendAs(e, 'ann', cid, id)).status === 200 ? true : undefined),
        {
          what: `${cid} to accept a message in eu`,
        },
      )
    }
    // bob's join and the message wait in eu.
    await eventually(
      async () =>
        ((await sample(e, 'imflow_forward_parked_total', usInbound)) ?? 0) >= 2 || undefined,
      { what: 'the us share to be parked' },
    )

    const usApp = await startTestApp(us, {
      IMFLOW_JWT_SECRET: secret,
      IMFLOW_APP_ID: 'imflow-us',
      IMFLOW_GEO: 'us',
      IMFLOW_REMOTE_GEOS: `eu=${eu}:imflow-eu`,
    })
    stops.push(usApp.stop)
    const u = usApp.app
    // eu's inbound is there (this check alone: on a loaded machine another probe may time out).
    const usReady = (await (await fetch(`${u.url}/readyz`)).json()) as { checks: object }
    expect(usReady.checks).toMatchObject({ forward_targets: { ok: true } })
    await eventually(
      async () => ((await fetch(`${e.url}/readyz`)).status === 200 ? true : undefined),
      {
        what: 'eu to see the us inbound topic',
        timeoutMs: 30_000,
      },
    )
    type Entry = { conversationId: string; unread: number; last: { preview: string } | null }
    const bobsRow = async () => {
      const res = await call(u, 'GET', '/v1/conversations', token('bob'))
      const list = ((await res.json()) as { conversations: Entry[] }).conversations
      return list.find((c) => c.conversationId === 'atlantic')
    }
    const row = await eventually(
      async () => ((await bobsRow())?.last ? await bobsRow() : undefined),
      {
        what: 'bob’s us list to show the parked message',
        timeoutMs: 30_000,
      },
    )
    expect(row).toMatchObject({ unread: 1, last: { preview: 'a-1' } })
    expect(await sample(e, 'imflow_forward_unparked_total', usInbound)).toBeGreaterThanOrEqual(2)
    expect(await sample(e, 'imflow_forward_target_up', usInbound)).toBe(1)
    // Sent on once: a later message makes it 2, not more.
    expect((await sendAs(e, 'ann', 'atlantic', 'a-2')).status).toBe(200)
    await eventually(async () => ((await bobsRow())?.unread === 2 ? true : undefined), {
      what: 'bob’s second message',
    })
    await new Promise((r) => setTimeout(r, 1_000))
    expect((await bobsRow())?.unread).toBe(2)
  })
})
