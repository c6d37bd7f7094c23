// Rate limits over the HTTP API (the real app on the real broker): GET/PUT /v1/limits is
// admin-only and validated; a change takes effect at once; each limit keyed by the HTTP
// request (the sender, the client type header, the token's app claim) answers 429 with
// Retry-After and the reason; and the buckets and limits survive a restart of the app.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import type { Limits } from '../../topologies/shaping/index.js'
import { eventually, httpCall, startTestApp, testKafka, unique } from './helpers.js'
import { committedSum } from './runtime-support.js'

const secret = 'shaping-test-secret-0123456789abcdef'
const admin = issueToken({ sub: 'root', role: 'admin' }, secret)
const slow = { rate: 0.001, burst: 2 }
const none = { default: null, overrides: {} }

describe('rate limits over HTTP', () => {
  const prefix = `${unique('limits')}.`
  let app: RunningApp
  let stop: (() => Promise<void>) | undefined
  let n = 0

  const start = async () => {
    ;({ app, stop } = await startTestApp(prefix, { IMFLOW_JWT_SECRET: secret }))
  }
  beforeAll(start)
  afterAll(() => stop?.())

  const send = (sub: string, claims: object = {}, headers: Record<string, string> = {}) =>
    fetch(`${app.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${issueToken({ sub, ...claims }, secret)}`,
        ...headers,
      },
      body: JSON.stringify({
        conversationId: 'ops',
        clientMsgId: `m${++n}`,
        type: 'TEXT',
        body: 'x',
      }),
    })
  const limits = (body: unknown) => httpCall(app.url, 'PUT', '/v1/limits', admin, body)
  const throttled = async (response: Response, reason: string) => {
    expect(response.status, reason).toBe(429)
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    const problem = (await response.json()) as { retryAfterMs: number }
    expect(problem).toMatchObject({ code: 'IMF_ERR_THROTTLED', reason })
    expect(problem.retryAfterMs).toBeGreaterThan(0)
  }

  it('reads, validates and changes the limits at run time; each dimension answers 429', {
    timeout: 180_000,
  }, async () => {
    const initial = await httpCall(app.url, 'GET', '/v1/limits', admin)
    expect(initial.status).toBe(200)
    const defaults = (await initial.json()) as Limits
    expect(defaults).toMatchObject({ capacity: 2_000, lowDeadlineMs: 3_600_000, user: none })
    expect(
      (await httpCall(app.url, 'GET', '/v1/limits', issueToken({ sub: 'ann' }, secret))).status,
    ).toBe(403)
    const invalid = await limits({
      ...defaults,
      user: { default: { rate: 1, burst: 0 }, overrides: {} },
    })
    expect(invalid.status).toBe(400)
    expect(await invalid.json()).toMatchObject({ code: 'IMF_ERR_BAD_REQUEST' })
    expect((await limits({ ...defaults, capacity: 0 })).status).toBe(400)
    const { user: _, ...missing } = defaults
    expect((await limits(missing)).status).toBe(400)

    const created = await httpCall(app.url, 'POST', '/v1/conversations', admin, {
      conversationId: 'ops',
      type: 'GROUP',
      members: ['ann', 'ben', 'cy'],
    })
    expect(created.status).toBe(201)
    await eventually(
      async () =>
        (await committedSum(testKafka(), `${prefix}imflow-receiver`, `${prefix}im.conversations`)) >
        0
          ? true
          : undefined,
      { what: 'the receiver to take in the conversation' },
    )
    const strict = {
      ...defaults,
      user: { default: null, overrides: { ann: slow } },
      clientType: { default: null, overrides: { kiosk: slow } },
      application: { default: null, overrides: { crm: slow } },
    }
    const put = await limits(strict)
    expect(put.status).toBe(200)
    expect(await put.json()).toEqual(strict)

    for (let i = 0; i < 2; i++) expect((await send('ann')).status).toBe(200)
    await throttled(await send('ann'), 'USER_RATE')
    expect((await send('ben')).status).toBe(200) // another user is not held back
    for (let i = 0; i < 2; i++)
      expect((await send('ben', {}, { 'imflow-client-type': 'kiosk' })).status).toBe(200)
    await throttled(await send('cy', {}, { 'imflow-client-type': 'kiosk' }), 'CLIENT_TYPE_RATE')
    for (let i = 0; i < 2; i++) expect((await send('cy', { app: 'crm' })).status).toBe(200)
    await throttled(await send('ben', { app: 'crm' }), 'APPLICATION_RATE')

    // A per-conversation limit, applied at run time, then lifted.
    expect(
      (
        await limits({
          ...strict,
          conversation: { default: null, overrides: { ops: { rate: 0.001, burst: 1 } } },
        })
      ).status,
    ).toBe(200)
    // A new bucket starts full: one message, then the limit.
    expect((await send('cy')).status).toBe(200)
    await throttled(await send('cy'), 'CONVERSATION_RATE')
    expect((await limits(strict)).status).toBe(200)
    expect((await send('cy')).status).toBe(200)
  })

  it('keeps the buckets and the limits across a restart, and lifting a limit lets traffic through', {
    timeout: 180_000,
  }, async () => {
    await stop?.()
    stop = undefined
    await start()
    const kept = (await (await httpCall(app.url, 'GET', '/v1/limits', admin)).json()) as Limits
    expect(kept.user.overrides).toEqual({ ann: slow })
    // ann's bucket came back from its changelog empty: still throttled.
    let last = 0
    await eventually(
      async () => {
        last = (await send('ben')).status
        return last === 200 ? true : undefined
      },
      { timeoutMs: 90_000, what: `the restarted receiver to answer (last status ${last})` },
    )
    await throttled(await send('ann'), 'USER_RATE')
    expect((await limits({ ...kept, user: none })).status).toBe(200)
    expect((await send('ann')).status).toBe(200)
  })
})
