// Read receipts and reactions end to end through `imflow start`: a 1:1 read tick reaches the
// sender's device within the small window plus the path's own latency (measured in the same
// run: a message's way to the other device); reactions over HTTP (members only, validated,
// idempotent); the reads and reactions queries; the merge's metrics; a reaction that reaches
// the merge before its sender's membership does.

import { Partitioners } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { ImflowClient } from '../../connectors/client/index.js'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import { registerContract } from '../../schemas/contract.js'
import { registrySchemaSource } from '../../schemas/schema-source.js'
import type { Action } from '../../schemas/types.generated.js'
import { eventually, httpCall, startTestApp, testKafka, unique } from './helpers.js'

const secret = 'merge-api-secret-0123456789abcdef'
const token = (sub: string, role?: string) => issueToken({ sub, ...(role ? { role } : {}) }, secret)
const SMALL_WINDOW_MS = 200
const GRACE_MS = 50

describe('merged read receipts and reactions over the API', () => {
  const prefix = `${unique('merge-api')}.`
  let app: RunningApp
  let stop: () => Promise<void>
  const clients: ImflowClient[] = []

  beforeAll(async () => {
    ;({ app, stop } = await startTestApp(prefix, {
      IMFLOW_JWT_SECRET: secret,
      IMFLOW_MERGE_WINDOW_SMALL_MS: String(SMALL_WINDOW_MS),
      IMFLOW_MERGE_WINDOW_GRACE_MS: String(GRACE_MS),
    }))
  })
  afterAll(async () => {
    for (const client of clients) await client.close()
    await stop?.()
  })

  const device = async (user: string) => {
    const client = new ImflowClient({ url: app.url, token: token(user), deviceId: `${user}-1` })
    clients.push(client)
    await client.connect()
    return client
  }
  const create = async (conversationId: string, type: string, members: string[]) => {
    const res = await httpCall(app.url, 'POST', '/v1/conversations', token('root', 'admin'), {
      conversationId,
      type,
      members,
    })
    expect(res.status).toBe(201)
  }
  const send = (who: string, conversationId: string, clientMsgId: string) =>
    eventually(
      async () => {
        const res = await httpCall(app.url, 'POST', '/v1/messages', token(who), {
          conversationId,
          clientMsgId,
          type: 'TEXT',
          body: clientMsgId,
        })
        return res.status === 200 ? ((await res.json()) as { msgId: string }).msgId : undefined
      },
      { what: `${clientMsgId} to be accepted` },
    )
  const get = async (who: string, path: string) => {
    const res = await httpCall(app.url, 'GET', path, token(who))
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }
  const metric = async (series: string) => {
    const text = await fetch(`${app.url}/metrics`).then((r) => r.text())
    const escaped = series.replace(/[{}]/g, '\\$&')
    return Number(new RegExp(`^${escaped} ([\\d.e+-]+)$`, 'm').exec(text)?.[1] ?? 0)
  }

  it('ticks a 1:1 read on the sender’s device within the small window plus the path', {
    timeout: 90_000,
  }, async () => {
    await create('pair', 'SINGLE', ['ann', 'ben'])
    const ann = await device('ann')
    const ben = await device('ben')
    await send('ann', 'pair', 'warm-up') // the path's first use opens everything on it
    const sentAt = Date.now()
    const msgId = await send('ann', 'pair', 'hello')
    await eventually(
      () => (ben.messages('pair').some((m) => m.msgId === msgId) ? true : undefined),
      {
        intervalMs: 5,
        what: 'the message to reach ben',
      },
    )
    const path = Date.now() - sentAt
    await eventually(
      () => (ann.messages('pair').some((m) => m.msgId === msgId) ? true : undefined),
      {
        what: 'ann to hold her message',
      },
    )

    const readAt = Date.now()
    const res = await httpCall(app.url, 'POST', '/v1/conversations/pair/read', token('ben'), {
      msgId,
    })
    expect(res.status).toBe(202)
    await eventually(
      () =>
        ann.messages('pair').find((m) => m.msgId === msgId)?.readCount === 1 ? true : undefined,
      { intervalMs: 5, what: 'the read tick on ann’s device' },
    )
    const tick = Date.now() - readAt
    console.info(
      `1:1 read tick ${tick} ms; a message's path ${path} ms; window ${SMALL_WINDOW_MS} ms`,
    )
    // The tick's path has the same hops as a message's, plus the window and its grace; the
    // slack covers a busy machine (the path varies about 2x run to run).
    expect(tick).toBeLessThan(SMALL_WINDOW_MS + GRACE_MS + 3 * Math.max(path, 100) + 2_000)

    const reads = await get('ann', `/v1/conversations/pair/messages/${msgId}/reads`)
    expect(reads).toEqual({
      status: 200,
      body: {
        conversationId: 'pair',
        msgId,
        senderId: 'ann',
        read: 1,
        unread: 0,
        readers: ['ben'],
        unreadMembers: [],
      },
    })
  })

  it('takes reactions from members only, once per user and emoji, and merges them', {
    timeout: 90_000,
  }, async () => {
    await create('crew', 'GROUP', ['ann', 'ben', 'cat'])
    const ann = clients[0] ?? (await device('ann'))
    const msgId = await send('ann', 'crew', 'vote')
    const reactions = `/v1/conversations/crew/messages/${msgId}/reactions`
    const react = (who: string, emoji: string, op = 'add') =>
      httpCall(app.url, 'POST', reactions, token(who), { emoji, op })
    expect((await react('ben', '👍')).status).toBe(202)
    expect((await react('ben', '👍')).status).toBe(202) // the same again: counted once
    expect((await react('cat', '👍')).status).toBe(202)
    expect((await react('cat', '🎉')).status).toBe(202)
    expect((await react('cat', '🎉', 'remove')).status).toBe(202)
    expect((await react('ann', '❤️', 'remove')).status).toBe(202) // never added
    expect((await react('eve', '👍')).status).toBe(403)
    expect((await react('ben', 'a b')).status).toBe(400)
    expect((await react('ben', 'x'.repeat(17))).status).toBe(400)
    expect((await react('ben', '👍', 'toggle')).status).toBe(400)

    await eventually(
      async () => {
        const { body } = await get('ann', reactions)
        return JSON.stringify(body.counts) === JSON.stringify({ '👍': 2 }) ? body : undefined
      },
      { what: 'the reaction totals' },
    ).then((body) =>
      expect(body).toEqual({
        conversationId: 'crew',
        msgId,
        counts: { '👍': 2 },
        users: { '👍': ['ben', 'cat'] },
      }),
    )
    await eventually(
      () =>
        JSON.stringify(ann.messages('crew').find((m) => m.msgId === msgId)?.reactions) ===
        JSON.stringify({ '👍': 2 })
          ? true
          : undefined,
      { what: 'the merged summary on ann’s device' },
    )

    // Reads: ben has read it (his device merges its marks into one receipt), cat has not.
    const ben = clients[1] ?? (await device('ben'))
    ben.markRead('crew', '1')
    ben.markRead('crew', msgId)
    ben.markRead('crew', '2')
    const reads = await eventually(
      async () => {
        const { body } = await get('cat', `/v1/conversations/crew/messages/${msgId}/reads`)
        return body.read === 1 ? body : undefined
      },
      { what: 'ben’s read to count' },
    )
    expect(reads).toMatchObject({ read: 1, unread: 1, readers: ['ben'], unreadMembers: ['cat'] })
    await ben.react('crew', msgId, '🎉', 'add') // the client library's call
    await eventually(
      async () => {
        const { body } = await get('cat', reactions)
        return (body.counts as Record<string, number>)['🎉'] === 1 ? true : undefined
      },
      { what: 'ben’s reaction through the client library' },
    )
    expect((await get('eve', `/v1/conversations/crew/messages/${msgId}/reads`)).status).toBe(403)

    const metrics = await fetch(`${app.url}/metrics`).then((r) => r.text())
    const value = (line: string) =>
      Number(new RegExp(`^${line} ([\\d.e+-]+)$`, 'm').exec(metrics)?.[1])
    expect(value('imflow_merge_reactions_in_total\\{outcome="changed"\\}')).toBe(5)
    expect(value('imflow_merge_reactions_in_total\\{outcome="unchanged"\\}')).toBe(2)
    expect(value('imflow_merge_updates_out_total\\{kind="reaction_summary"\\}')).toBeGreaterThan(0)
    // Some updates went out (a ratio of 1 would be none); the burst test measures the cut.
    expect(value('imflow_merge_reduction_ratio')).toBeLessThan(1)
  })

  it('counts a reaction that reached the merge before its sender’s membership, once he is a member', {
    timeout: 90_000,
  }, async () => {
    await create('late', 'GROUP', ['ann', 'ben'])
    const msgId = await send('ann', 'late', 'welcome')
    const reactions = `/v1/conversations/late/messages/${msgId}/reactions`
    // dan's reaction overtakes the record adding him (Kafka orders no two topics): here a
    // producer writes it before he is added at all.
    const codecs = await registerContract(registrySchemaSource(inject('schemaRegistryUrl')), prefix)
    const producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    const action: Action = {
      conversationId: 'late',
      userId: 'dan',
      at: Date.now(),
      action: { kind: 'ReactionChanged', msgId, emoji: '👋', op: 'ADD' },
    }
    try {
      await producer.send({
        topic: `${prefix}im.actions`,
        messages: [{ key: 'late', value: codecs['im.actions'].encode(action) }],
      })
    } finally {
      await producer.disconnect()
    }
    await eventually(
      async () =>
        (await metric('imflow_merge_actions_awaiting_member_total{outcome="parked"}')) >= 1
          ? true
          : undefined,
      { what: 'the merge to keep dan’s reaction waiting' },
    )
    expect((await get('ann', reactions)).body.counts).toEqual({})
    const added = await httpCall(
      app.url,
      'POST',
      '/v1/conversations/late/members',
      token('root', 'admin'),
      { add: ['dan'] },
    )
    expect(added.status).toBe(202)
    const totals = await eventually(
      async () => {
        const { body } = await get('dan', reactions)
        return (body.counts as Record<string, number> | undefined)?.['👋'] === 1 ? body : undefined
      },
      { what: 'dan’s reaction to count once he is a member' },
    )
    expect(totals).toEqual({
      conversationId: 'late',
      msgId,
      counts: { '👋': 1 },
      users: { '👋': ['dan'] },
    })
    expect(await metric('imflow_merge_actions_awaiting_member_total{outcome="applied"}')).toBe(1)
  })
})
