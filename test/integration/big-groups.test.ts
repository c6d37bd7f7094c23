// Large groups at the seeds' scale, end to end (`imflow start`, the real gateway, ImflowClient
// devices): a 10,000-member group with 200 members online gets 100 messages; every online
// device applies each exactly once, in seq order; 50 members who come online afterwards catch
// up exactly (one of them past the limit, by a reload of the latest page); and what a message
// costs — records produced, store writes, frames pushed — is the same for a 2,000- and a
// 10,000-member group with the same devices online: it follows online devices, not members.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ClientMessage, ImflowClient } from '../../connectors/client/index.js'
import { parseMetrics, total } from '../../connectors/http/dashboard/metrics-text.js'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import { eventually, httpCall, startTestApp, unique } from './helpers.js'

const secret = 'big-groups-secret-0123456789abcdef'
const token = (sub: string, role?: string) => issueToken({ sub, ...(role ? { role } : {}) }, secret)
const ONLINE = 200
const LATE = 50
const MESSAGES = 100
/** A device more than this many messages behind in a group reloads its latest page. */
const CATCH_UP_LIMIT = 60
const user = (i: number) => `u-${i}`

/** The sum of a metric's samples whose labels include `labels` (0 when it has none). */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  return total(parseMetrics(text), name, labels) ?? 0
}

describe('large groups', () => {
  const prefix = `${unique('big')}.`
  let app: RunningApp
  let stop: () => Promise<void>
  const clients: ImflowClient[] = []

  beforeAll(async () => {
    ;({ app, stop } = await startTestApp(prefix, {
      IMFLOW_JWT_SECRET: secret,
      IMFLOW_SYNC_REBASE_THRESHOLD: String(CATCH_UP_LIMIT),
    }))
  }, 180_000)
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()))
    await stop?.()
  })

  const scrape = async () => (await httpCall(app.url, 'GET', '/metrics')).text()

  /** Waits until the topology's counted output stops moving (its last commit is counted). */
  const quiet = async (topology: string, intervalMs: number) => {
    let last = -1
    await eventually(
      async () => {
        const now = metric(await scrape(), 'imflow_task_records_out_total', { topology })
        const still = now === last
        last = now
        return still ? true : undefined
      },
      { timeoutMs: 120_000, intervalMs, what: `the ${topology} topology to go quiet` },
    )
  }

  const device = (i: number, seqs?: Record<string, number>) => {
    const client = new ImflowClient({
      url: app.url,
      token: token(user(i)),
      deviceId: `${user(i)}-phone`,
      ...(seqs ? { seqs } : {}),
      reconnect: { initialDelayMs: 50, maxDelayMs: 1_000 },
    })
    clients.push(client)
    const held = new Map<string, string[]>()
    client.on('messages', (messages: ClientMessage[]) => {
      for (const m of messages)
        held.set(m.conversationId, [...(held.get(m.conversationId) ?? []), m.msgId])
    })
    return { client, held }
  }

  const send = async (conversationId: string, i: number) => {
    const res = await httpCall(app.url, 'POST', '/v1/messages', token(user(5_000)), {
      conversationId,
      clientMsgId: `${conversationId}-${i}`,
      type: 'TEXT',
      body: `${conversationId} #${i}`,
    })
    expect(res.status).toBe(200)
    return ((await res.json()) as { msgId: string }).msgId
  }

  it('pushes to online devices only, each message once and in order, and late devices catch up exactly', {
    timeout: 300_000,
  }, async () => {
    // The same 200 users (and the sender) are members of both groups.
    for (const [conversationId, size] of [
      ['town', 10_000],
      ['village', 2_000],
    ] as const) {
      const members = Array.from({ length: size }, (_, i) => user(i))
      if (size < 5_001) members.push(user(5_000))
      const res = await httpCall(app.url, 'POST', '/v1/conversations', token('root', 'admin'), {
        conversationId,
        type: 'GROUP',
        members,
      })
      expect(res.status).toBe(201)
    }
    // Each device follows both groups once its heads frame lists them.
    const online = Array.from({ length: ONLINE }, (_, i) => device(i))
    await Promise.all(online.map(({ client }) => client.connect()))
    await eventually(
      () =>
        online.every(({ client }) => client.seqs().town === 0 && client.seqs().village === 0)
          ? true
          : undefined,
      { timeoutMs: 120_000, what: 'every online device to follow both groups' },
    )

    // Membership events (one per member, once) are pushed and acked first: measure on a quiet app.
    await quiet('sync', 2_000)
    const costs: Record<string, number[]> = {}
    const perMember: Record<string, number> = {}
    const accepted: Record<string, string[]> = { town: [], village: [] }
    for (const conversationId of ['village', 'town']) {
      const before = await scrape()
      for (let i = 0; i < MESSAGES; i++)
        accepted[conversationId]?.push(await send(conversationId, i))
      await eventually(
        () =>
          online.every(({ held }) => held.get(conversationId)?.length === MESSAGES)
            ? true
            : undefined,
        { timeoutMs: 60_000, what: `every online device to hold ${conversationId}'s messages` },
      )
      await quiet('receiver', 500)
      const after = await scrape()
      const delta = (name: string, labels: Record<string, string> = {}) =>
        metric(after, name, labels) - metric(before, name, labels)
      // The msgId generator's position and shaping's load view are stored (and changelogged)
      // once per transaction, the generator's high-water mark once a second, whatever the
      // traffic: not a per-message cost.
      const perTransaction = ['ids', 'shaping-load']
        .map((store) => delta('imflow_store_writes_total', { topology: 'receiver', store }))
        .reduce((a, b) => a + b)
      costs[conversationId] = [
        (delta('imflow_task_records_out_total', { topology: 'receiver' }) - perTransaction) /
          MESSAGES,
        (delta('imflow_store_writes_total', { topology: 'receiver' }) - perTransaction) / MESSAGES,
        delta('imflow_gateway_frames_delivered_total') / MESSAGES,
      ]
      perMember[conversationId] =
        (delta('imflow_store_writes_total', { topology: 'inbox' }) +
          delta('imflow_store_writes_total', { topology: 'sync' })) /
        MESSAGES
    }
    // records: receipt, room event, 4 changelog records (log, seq, seq index, dedupe);
    // writes: those 4; one frame per online device (a rare re-sent PTS push aside)
    for (const cost of [costs.village, costs.town]) {
      expect(cost?.slice(0, 2)).toEqual([6, 4])
      expect(cost?.[2]).toBeGreaterThanOrEqual(ONLINE)
      expect(cost?.[2]).toBeLessThan(ONLINE + 0.1)
    }
    // Nothing per member in inboxes or sync queues (one per member would be 2,000 and 10,000).
    expect(perMember.village).toBeLessThan(1)
    expect(perMember.town).toBeLessThan(1)

    // Every online device: every message exactly once, in the order the receiver accepted them.
    for (const { client, held } of online) {
      expect(held.get('town')).toEqual(accepted.town)
      expect(client.seqs().town).toBe(MESSAGES)
    }

    // Members who come online afterwards: 49 held the first 50 (pull exactly the rest), one held
    // only 10 — 90 behind, past the limit — and reloads the latest page instead.
    const late = Array.from({ length: LATE }, (_, k) =>
      device(ONLINE + k, { town: k === 0 ? 10 : 50, village: MESSAGES }),
    )
    const reloads: string[] = []
    late[0]?.client.on('reload', (conversationId) => reloads.push(conversationId))
    await Promise.all(late.map(({ client }) => client.connect()))
    await eventually(
      () => (late.every(({ client }) => client.seqs().town === MESSAGES) ? true : undefined),
      { timeoutMs: 60_000, what: 'the late devices to catch up' },
    )
    await Promise.all(late.map(({ client }) => client.settled()))
    for (const { held } of late.slice(1)) expect(held.get('town')).toEqual(accepted.town?.slice(50))
    expect(reloads).toEqual(['town'])
    expect(late[0]?.client.messages('town').map((m) => m.msgId)).toEqual(accepted.town?.slice(50))

    const list = await httpCall(app.url, 'GET', '/v1/conversations', token(user(7)))
    const { conversations } = (await list.json()) as {
      conversations: { conversationId: string; large: boolean; seq?: number }[]
    }
    expect(conversations.find((c) => c.conversationId === 'town')).toMatchObject({
      large: true,
      seq: MESSAGES,
    })
    // One conversation, as its entry: what a gateway apart from the API asks; members only.
    const one = await httpCall(app.url, 'GET', '/v1/conversations/town', token(user(7)))
    expect(await one.json()).toMatchObject({ conversationId: 'town', large: true, seq: MESSAGES })
    const outsider = await httpCall(app.url, 'GET', '/v1/conversations/town', token('u-x'))
    expect(outsider.status).toBe(403)
  })
})
