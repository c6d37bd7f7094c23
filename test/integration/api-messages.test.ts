// The HTTP API over the real broker and registry: admin routes create a conversation, members
// send over POST /v1/messages and get their receipt (same msgId on retry), and every failure
// is a problem+json with a stable code: 401 without a valid token, 403 for non-admins and
// non-members, 400 for a malformed body, 422 for a rejected message.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import { eventually, httpCall, startTestApp, testKafka, unique } from './helpers.js'
import { committedSum } from './runtime-support.js'

const secret = 'api-test-secret-0123456789abcdef'
const token = (sub: string, role?: string) => issueToken({ sub, ...(role ? { role } : {}) }, secret)

describe('HTTP API: messages and admin routes', () => {
  const prefix = `${unique('api')}.`
  let app: RunningApp
  let stop: () => Promise<void>

  beforeAll(async () => {
    ;({ app, stop } = await startTestApp(prefix, {
      IMFLOW_JWT_SECRET: secret,
      IMFLOW_MAX_BODY_BYTES: '1000',
    }))
  })
  afterAll(() => stop?.())

  const call = (method: string, path: string, body?: unknown, bearer?: string) =>
    httpCall(app.url, method, path, bearer, body)

  it('creates a group, sends, dedupes, and answers problems with stable codes', {
    timeout: 60_000,
  }, async () => {
    const admin = token('root', 'admin')
    const created = await call(
      'POST',
      '/v1/conversations',
      { conversationId: 'crew', type: 'GROUP', members: ['ann', 'ben', 'cy'], admins: ['ann'] },
      admin,
    )
    expect(created.status).toBe(201)
    expect(await created.json()).toEqual({ conversationId: 'crew', members: 3 })
    await eventually(
      async () =>
        (await committedSum(testKafka(), `${prefix}imflow-receiver`, `${prefix}im.conversations`)) >
        0
          ? true
          : undefined,
      { what: 'the receiver to take in the conversation' },
    )

    const send = (who: string, clientMsgId: string, extra: object = {}) =>
      call(
        'POST',
        '/v1/messages',
        { conversationId: 'crew', clientMsgId, type: 'TEXT', body: 'hello crew', ...extra },
        token(who),
      )
    const sent = await send('ben', 'b-1')
    expect(sent.status).toBe(200)
    const receipt = (await sent.json()) as { msgId: string; createdAt: number }
    expect(receipt.msgId).toMatch(/^\d+$/)
    const again = await send('ben', 'b-1')
    expect(await again.json()).toMatchObject({ msgId: receipt.msgId, createdAt: receipt.createdAt })

    const problem = async (res: Response) => ({
      status: res.status,
      contentType: res.headers.get('content-type'),
      ...((await res.json()) as object),
    })
    expect(await problem(await send('zed', 'z-1'))).toMatchObject({
      status: 403,
      code: 'IMF_ERR_FORBIDDEN',
      reason: 'NOT_MEMBER',
    })
    expect(await problem(await send('ben', 'b-2', { body: 'x'.repeat(1001) }))).toMatchObject({
      status: 422,
      code: 'IMF_ERR_REJECTED',
      reason: 'TOO_LARGE',
    })
    const noToken = await problem(
      await call('POST', '/v1/messages', {
        conversationId: 'crew',
        clientMsgId: 'n',
        type: 'TEXT',
        body: 'x',
      }),
    )
    expect(noToken).toMatchObject({ status: 401, code: 'IMF_ERR_UNAUTHORIZED' })
    expect(noToken.contentType).toContain('application/problem+json')
    expect(
      await problem(
        await call(
          'POST',
          '/v1/messages',
          {},
          issueToken({ sub: 'ben' }, 'some-other-secret-0000'),
        ),
      ),
    ).toMatchObject({
      status: 401,
      code: 'IMF_ERR_UNAUTHORIZED',
    })
    expect(
      await problem(await call('POST', '/v1/messages', { conversationId: 'crew' }, token('ben'))),
    ).toMatchObject({
      status: 400,
      code: 'IMF_ERR_BAD_REQUEST',
    })
    expect(
      await problem(await call('PATCH', '/v1/conversations/crew', { muted: true }, token('ben'))),
    ).toMatchObject({
      status: 403,
      code: 'IMF_ERR_FORBIDDEN',
    })
    expect(await problem(await call('GET', '/v1/nothing-here', undefined, admin))).toMatchObject({
      status: 404,
      code: 'IMF_ERR_NOT_FOUND',
    })

    // Mute: only the admin speaks now.
    expect((await call('PATCH', '/v1/conversations/crew', { muted: true }, admin)).status).toBe(202)
    await eventually(
      async () => {
        const res = await send('ben', `b-muted-${Date.now()}`)
        return res.status === 403 ? res : undefined
      },
      { what: 'the mute to apply' },
    )
    expect((await send('ann', 'a-1')).status).toBe(200)
    expect((await call('PUT', '/v1/users/ben', { geo: 'eu' }, admin)).status).toBe(202)
  })

  it('serves history to members, newest first, cursor-paged and stable as messages arrive', {
    timeout: 60_000,
  }, async () => {
    const admin = token('root', 'admin')
    expect(
      (
        await call(
          'POST',
          '/v1/conversations',
          { conversationId: 'log', type: 'GROUP', members: ['ann', 'ben'] },
          admin,
        )
      ).status,
    ).toBe(201)
    const sendAs = (who: string, clientMsgId: string) =>
      eventually(
        async () => {
          const res = await call(
            'POST',
            '/v1/messages',
            { conversationId: 'log', clientMsgId, type: 'TEXT', body: clientMsgId },
            token(who),
          )
          return res.status === 200 ? ((await res.json()) as { msgId: string }) : undefined
        },
        { what: `${clientMsgId} to be accepted` },
      )
    const ids: string[] = []
    for (let i = 1; i <= 5; i++) ids.push((await sendAs(i % 2 ? 'ann' : 'ben', `h-${i}`)).msgId)

    type Page = {
      messages: { msgId: string; body: string; senderId: string }[]
      next: string | null
    }
    const page = async (query: string, who = 'ben'): Promise<Page> => {
      const res = await call('GET', `/v1/conversations/log/messages${query}`, undefined, token(who))
      expect(res.status).toBe(200)
      return (await res.json()) as Page
    }
    const first = await page('?limit=2')
    expect(first.messages.map((m) => m.body)).toEqual(['h-5', 'h-4'])
    expect(first.messages.map((m) => m.msgId)).toEqual([ids[4], ids[3]])
    // A new message arrives between pages: the next page goes on from where the first ended.
    await sendAs('ann', 'h-6')
    const second = await page(`?limit=2&before=${first.next}`)
    expect(second.messages.map((m) => m.body)).toEqual(['h-3', 'h-2'])
    const third = await page(`?limit=2&before=${second.next}`)
    expect(third.messages.map((m) => m.body)).toEqual(['h-1'])
    expect(third.next).toBeNull()
    expect((await page('?limit=1')).messages[0]?.body).toBe('h-6')

    const outsider = await call('GET', '/v1/conversations/log/messages', undefined, token('zed'))
    expect(outsider.status).toBe(403)
    expect(((await outsider.json()) as { code: string }).code).toBe('IMF_ERR_FORBIDDEN')
    expect((await call('GET', '/v1/conversations/log/messages')).status).toBe(401)
    expect(
      (await call('GET', '/v1/conversations/log/messages?limit=0', undefined, token('ben'))).status,
    ).toBe(400)
  })

  it('merges each member’s private messages and hides what they deleted for themselves', {
    timeout: 60_000,
  }, async () => {
    const admin = token('root', 'admin')
    const created = await call(
      'POST',
      '/v1/conversations',
      { conversationId: 'priv', type: 'GROUP', members: ['ann', 'ben', 'cy'] },
      admin,
    )
    expect(created.status).toBe(201)
    const send = (who: string, clientMsgId: string, extra: object = {}) =>
      eventually(
        async () => {
          const res = await call(
            'POST',
            '/v1/messages',
            { conversationId: 'priv', clientMsgId, type: 'TEXT', body: clientMsgId, ...extra },
            token(who),
          )
          return res.status === 200 ? ((await res.json()) as { msgId: string }) : undefined
        },
        { what: `${clientMsgId} to be accepted` },
      )
    const hello = await send('ann', 'hello')
    await send('ann', 'secret', { visibility: 'PRIVATE', targets: ['ben'] })
    await send('cy', 'bye')

    const bodies = async (who: string) => {
      const res = await call('GET', '/v1/conversations/priv/messages', undefined, token(who))
      expect(res.status).toBe(200)
      return ((await res.json()) as { messages: { body: string }[] }).messages.map((m) => m.body)
    }
    // The private message reaches ben's and ann's histories (its sender's too), never cy's.
    // Their inboxes may sit in different partitions: each copy lands in its own time.
    for (const who of ['ben', 'ann']) {
      await eventually(async () => ((await bodies(who)).length === 3 ? true : undefined), {
        what: `${who} to see 3 messages`,
      })
    }
    expect(await bodies('ben')).toEqual(['bye', 'secret', 'hello'])
    expect(await bodies('ann')).toEqual(['bye', 'secret', 'hello'])
    expect(await bodies('cy')).toEqual(['bye', 'hello'])

    // Ben deletes "hello" for himself only.
    const deleted = await call(
      'DELETE',
      `/v1/conversations/priv/messages/${hello.msgId}`,
      undefined,
      token('ben'),
    )
    expect(deleted.status).toBe(202)
    await eventually(async () => ((await bodies('ben')).length === 2 ? true : undefined), {
      what: 'the deletion to apply',
    })
    expect(await bodies('ben')).toEqual(['bye', 'secret'])
    expect(await bodies('ann')).toEqual(['bye', 'secret', 'hello'])
    expect(
      (
        await call(
          'DELETE',
          `/v1/conversations/priv/messages/${hello.msgId}`,
          undefined,
          token('zed'),
        )
      ).status,
    ).toBe(403)
  })

  it('creates a 30,000-member group over HTTP, and every member reads its message', {
    timeout: 90_000,
  }, async () => {
    const members = Array.from({ length: 30_000 }, (_, i) => `member-${i}`)
    const created = await call(
      'POST',
      '/v1/conversations',
      { conversationId: 'town', type: 'GROUP', members },
      token('root', 'admin'),
    )
    expect(created.status).toBe(201)
    // The last member arrived in the third chunk: once they may send, every chunk was applied.
    const sent = await eventually(
      async () => {
        const res = await call(
          'POST',
          '/v1/messages',
          { conversationId: 'town', clientMsgId: 'hello-town', type: 'TEXT', body: 'hello' },
          token('member-29999'),
        )
        return res.status === 200 ? ((await res.json()) as { msgId: string }) : undefined
      },
      { timeoutMs: 60_000, what: 'the last member to be admitted' },
    )
    expect(sent.msgId).toMatch(/^\d+$/)
    const page = await call('GET', '/v1/conversations/town/messages', undefined, token('member-0'))
    expect(
      ((await page.json()) as { messages: { body: string }[] }).messages.map((m) => m.body),
    ).toEqual(['hello'])
  })
})
