// Conversation lists over HTTP: small groups' unread counts and last message are kept at
// send time; large groups' (here: more than 3 members) are computed on read from the log and
// the reader’s cursor — and a send to a large group writes no list rows at all. Both stay
// right after read receipts and delete-for-me.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import { eventually, httpCall, startTestApp, testKafka, unique } from './helpers.js'
import { waitForConsumed } from './runtime-support.js'

const secret = 'lists-test-secret-0123456789abcdef'
const token = (sub: string, role?: string) => issueToken({ sub, ...(role ? { role } : {}) }, secret)

interface Entry {
  conversationId: string
  large: boolean
  unread: number
  last: { msgId: string; preview: string } | null
}

describe('HTTP API: conversation lists', () => {
  const prefix = `${unique('lists')}.`
  let app: RunningApp
  let stop: () => Promise<void>

  beforeAll(async () => {
    ;({ app, stop } = await startTestApp(prefix, {
      IMFLOW_JWT_SECRET: secret,
      IMFLOW_LARGE_GROUP_THRESHOLD: '3',
    }))
  })
  afterAll(() => stop?.())

  const call = (method: string, path: string, who: string, body?: unknown) =>
    httpCall(app.url, method, path, who, body)
  const send = (who: string, conversationId: string, clientMsgId: string) =>
    eventually(
      async () => {
        const res = await call('POST', '/v1/messages', token(who), {
          conversationId,
          clientMsgId,
          type: 'TEXT',
          body: clientMsgId,
        })
        return res.status === 200 ? ((await res.json()) as { msgId: string }) : undefined
      },
      { what: `${clientMsgId} to be accepted` },
    )
  const list = async (who: string): Promise<Record<string, Entry>> => {
    const res = await call('GET', '/v1/conversations', token(who))
    expect(res.status).toBe(200)
    const { conversations } = (await res.json()) as { conversations: Entry[] }
    return Object.fromEntries(conversations.map((c) => [c.conversationId, c]))
  }
  const listWrites = async () => {
    const text = await fetch(`${app.url}/metrics`).then((r) => r.text())
    return Number(
      /imflow_store_writes_total\{topology="inbox",store="conversation-list"\} (\d+)/.exec(
        text,
      )?.[1] ?? 0,
    )
  }

  it('keeps small groups eager and computes large groups lazily, right after reads and deletes', {
    timeout: 90_000,
  }, async () => {
    const admin = token('root', 'admin')
    const create = (conversationId: string, members: string[]) =>
      call('POST', '/v1/conversations', admin, { conversationId, type: 'GROUP', members })
    expect((await create('small', ['ann', 'ben', 'cy'])).status).toBe(201)
    expect((await create('large', ['ann', 'ben', 'cy', 'dee', 'eli'])).status).toBe(201)

    const s1 = await send('ann', 'small', 's1')
    const s2 = await send('ann', 'small', 's2')
    // Each member's row lives in their own inbox partition and is updated in its own time.
    await eventually(async () => ((await list('ben')).small?.unread === 2 ? true : undefined), {
      what: 'ben’s small unread to be 2',
    })
    await eventually(
      async () => ((await list('ann')).small?.last?.preview === 's2' ? true : undefined),
      {
        what: 'ann’s small row to show s2',
      },
    )
    expect((await list('ben')).small).toMatchObject({
      large: false,
      unread: 2,
      last: { preview: 's2' },
    })
    expect((await list('ann')).small).toMatchObject({ unread: 0, last: { preview: 's2' } })

    // Sending to the large group writes no list rows.
    await eventually(async () => ((await list('ben')).large ? true : undefined), {
      what: 'the large group in ben’s list',
    })
    const before = await listWrites()
    const l1 = await send('ann', 'large', 'l1')
    await send('cy', 'large', 'l2')
    const l3 = await send('dee', 'large', 'l3')
    // Once the inbox has taken in every hand-off record, the count is final.
    await waitForConsumed(testKafka(), `${prefix}imflow-inbox`, `${prefix}imflow-fanout`, 30_000)
    expect(await listWrites()).toBe(before)
    expect((await list('ben')).large).toMatchObject({
      large: true,
      unread: 3,
      last: { preview: 'l3' },
    })
    expect((await list('cy')).large).toMatchObject({ unread: 2 }) // cy's own message does not count

    // Reads: up to the first message of each.
    expect(
      (await call('POST', '/v1/conversations/small/read', token('ben'), { msgId: s1.msgId }))
        .status,
    ).toBe(202)
    expect(
      (await call('POST', '/v1/conversations/large/read', token('ben'), { msgId: l1.msgId }))
        .status,
    ).toBe(202)
    await eventually(
      async () => {
        const mine = await list('ben')
        return mine.small?.unread === 1 && mine.large?.unread === 2 ? true : undefined
      },
      { what: 'ben’s reads to apply to both lists' },
    )

    // Delete for me: an unread message leaves the count, a deleted last message is replaced.
    for (const [cid, msgId] of [
      ['small', s2.msgId],
      ['large', l3.msgId],
    ] as const) {
      expect(
        (await call('DELETE', `/v1/conversations/${cid}/messages/${msgId}`, token('ben'))).status,
      ).toBe(202)
    }
    await eventually(
      async () => {
        const mine = await list('ben')
        return mine.small?.unread === 0 && mine.large?.unread === 1 ? mine : undefined
      },
      { what: 'ben’s deletions to apply to both lists' },
    )
    const after = await list('ben')
    expect(after.small?.last?.preview).toBe('s1')
    expect(after.large?.last?.preview).toBe('l2')
    expect((await list('ann')).small).toMatchObject({ last: { preview: 's2' } }) // only ben's view changed
    expect(Object.keys(await list('zed'))).toEqual([])
    expect(
      (await call('POST', '/v1/conversations/small/read', token('zed'), { msgId: s1.msgId }))
        .status,
    ).toBe(403)
  })
})
