// Acting from home: bob, homed in us, sends, reads, reacts, deletes for himself and reads the
// history of an eu-homed group through the us API — two deployments (own app ids, own APIs)
// on the shared broker. Writes travel through us's receiver to eu's topics; reads of the
// conversation come from eu, merged with bob's own state in us. The answers are eu's.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import { eventually, httpCall, unique } from './helpers.js'
import { type Deployments, startGeos } from './units-support.js'

const secret = 'geo-home-secret-0123456789abcdef'
const token = (sub: string, role?: string) => issueToken({ sub, ...(role ? { role } : {}) }, secret)

type Message = { msgId: string; senderId: string; body: string }
type Entry = { conversationId: string; unread: number; remote?: boolean; last: unknown }
/** The fields of the answers read here. */
type Body = {
  msgId?: string
  messages?: Message[]
  conversations?: Entry[]
  read?: number
  counts?: Record<string, number>
  reason?: string
  events?: { event: { payload: Update } }[]
}
/** The merged updates' fields read here. */
type Update = { kind: string; msgId?: string; readCount?: number; counts?: Record<string, number> }

describe('acting from home on a conversation homed in another geo', () => {
  const run = unique('geohome')
  const eu = `${run}-eu.`
  const us = `${run}-us.`
  let e: RunningApp
  let u: RunningApp
  let geos: Deployments | undefined

  beforeAll(async () => {
    geos = await startGeos([eu, us], { IMFLOW_JWT_SECRET: secret })
    ;[e, u] = geos.apps as [RunningApp, RunningApp]
  }, 120_000)
  afterAll(async () => {
    await geos?.stop()
  })

  const call = async (
    app: RunningApp,
    method: string,
    path: string,
    who: string,
    body?: unknown,
  ) => {
    const res = await httpCall(app.url, method, path, token(who), body)
    return { status: res.status, body: (await res.json().catch(() => undefined)) as Body }
  }
  const history = async (app: RunningApp, who: string) => {
    const res = await call(app, 'GET', '/v1/conversations/atlantic/messages', who)
    expect(res.status).toBe(200)
    return res.body.messages ?? []
  }
  const bobsRow = async () =>
    (await call(u, 'GET', '/v1/conversations', 'bob')).body.conversations?.find(
      (c) => c.conversationId === 'atlantic',
    )

  it('sends, reads, reacts, deletes for himself and pages history through us', {
    timeout: 150_000,
  }, async () => {
    const admin = 'root'
    const adminToken = token(admin, 'admin')
    const put = (uid: string, geo: string) =>
      httpCall(e.url, 'PUT', `/v1/users/${uid}`, adminToken, { geo })
    expect((await put('bob', 'us')).status).toBe(202)
    await new Promise((r) => setTimeout(r, 2_000)) // eu's receivers' replica of users' geos
    const created = await httpCall(e.url, 'POST', '/v1/conversations', adminToken, {
      conversationId: 'atlantic',
      type: 'GROUP',
      members: ['ann', 'bob'],
    })
    expect(created.status).toBe(201)
    const send = (app: RunningApp, who: string, clientMsgId: string) =>
      call(app, 'POST', '/v1/messages', who, {
        conversationId: 'atlantic',
        clientMsgId,
        type: 'TEXT',
        body: clientMsgId,
      })
    const first = await eventually(
      async () => {
        const res = await send(e, 'ann', 'a-1')
        return res.status === 200 ? res.body.msgId : undefined
      },
      { what: 'ann’s message in eu' },
    )
    await eventually(async () => ((await bobsRow())?.unread === 1 ? true : undefined), {
      what: 'bob’s us row to count ann’s message',
    })

    // Send from us: decided in eu (its msgId, its receipt), answered here.
    const sent = await send(u, 'bob', 'b-1')
    expect(sent.status).toBe(200)
    const again = await send(u, 'bob', 'b-1') // a retry: eu's dedupe answers
    expect(again.body.msgId).toBe(sent.body.msgId)
    // carl is a member nowhere: no geo names it his, so it is unknown to him.
    const carls = await send(u, 'carl', 'c-1')
    expect([carls.status, carls.body.reason]).toEqual([422, 'UNKNOWN_CONVERSATION'])

    // History from us is eu's, the same page ann gets there.
    const fromUs = await eventually(
      async () => {
        const page = await history(u, 'bob')
        return page.length === 2 ? page : undefined
      },
      { what: 'both messages in bob’s history' },
    )
    expect(fromUs.map((m) => m.body)).toEqual(['b-1', 'a-1'])
    expect(fromUs).toEqual(await history(e, 'ann'))
    expect((await call(u, 'GET', '/v1/conversations/atlantic/messages', 'carl')).status).toBe(403)
    expect((await call(u, 'GET', '/v1/conversations/atlantic', 'bob')).body).toMatchObject({
      conversationId: 'atlantic',
      remote: true,
    })

    // A read receipt from us: eu's merge stage counts it, bob's us row clears.
    const read = await call(u, 'POST', '/v1/conversations/atlantic/read', 'bob', {
      msgId: first,
    })
    expect(read.status).toBe(202)
    await eventually(
      async () =>
        (await call(e, 'GET', `/v1/conversations/atlantic/messages/${first}/reads`, 'ann')).body
          ?.read === 1
          ? true
          : undefined,
      { what: 'eu to count bob’s read' },
    )
    // The totals, asked through us, are eu's.
    const reads = `/v1/conversations/atlantic/messages/${first}/reads`
    expect((await call(u, 'GET', reads, 'bob')).body).toEqual(
      (await call(e, 'GET', reads, 'ann')).body,
    )
    expect((await call(u, 'GET', reads, 'carl')).status).toBe(403)
    await eventually(async () => ((await bobsRow())?.unread === 0 ? true : undefined), {
      what: 'bob’s us row to clear',
    })

    // A reaction from us: merged in eu.
    const reactions = `/v1/conversations/atlantic/messages/${first}/reactions`
    expect((await call(u, 'POST', reactions, 'bob', { emoji: '👍', op: 'add' })).status).toBe(202)
    expect((await call(u, 'POST', reactions, 'carl', { emoji: '👍', op: 'add' })).status).toBe(403)
    await eventually(
      async () =>
        (await call(e, 'GET', reactions, 'ann')).body?.counts?.['👍'] === 1 ? true : undefined,
      { what: 'eu to merge bob’s reaction' },
    )
    const fromEu = (await call(e, 'GET', reactions, 'ann')).body
    expect((await call(u, 'GET', reactions, 'bob')).body).toEqual(fromEu)

    // eu's merged updates reach bob where he is homed: the summary of his reaction, and the
    // read status of his message once ann reads it in eu, in his us stream (before, they went
    // to eu's inboxes, where bob has no device).
    const readByAnn = await call(e, 'POST', '/v1/conversations/atlantic/read', 'ann', {
      msgId: sent.body.msgId,
    })
    expect(readByAnn.status).toBe(202)
    const bobsUpdates = async () =>
      ((await call(u, 'GET', '/v1/sync?after=0&limit=1000', 'bob')).body.events ?? []).map(
        (e) => e.event.payload,
      )
    const updates = await eventually(
      async () => {
        const got = await bobsUpdates()
        const summary = got.find((p) => p.kind === 'ReactionSummary' && p.msgId === first)
        const status = got.find((p) => p.kind === 'ReadStatus' && p.msgId === sent.body.msgId)
        return summary && status ? { summary, status } : undefined
      },
      { what: 'eu’s merged updates in bob’s us stream' },
    )
    expect(updates.summary.counts).toEqual({ '👍': 1 })
    expect(updates.status.readCount).toBe(1)

    // Delete for me from us: gone from bob's history (kept in us), still in ann's (eu).
    const deleted = await call(u, 'DELETE', `/v1/conversations/atlantic/messages/${first}`, 'bob')
    expect(deleted.status).toBe(202)
    await eventually(async () => ((await history(u, 'bob')).length === 1 ? true : undefined), {
      what: 'ann’s message gone from bob’s history',
    })
    expect((await history(u, 'bob')).map((m) => m.body)).toEqual(['b-1'])
    expect((await history(e, 'ann')).map((m) => m.body)).toEqual(['b-1', 'a-1'])
  })

  it('moves a user’s list rows and unread state with their home geo, leaving none behind', {
    timeout: 120_000,
  }, async () => {
    const adminToken = token('root', 'admin')
    const created = await httpCall(e.url, 'POST', '/v1/conversations', adminToken, {
      conversationId: 'harbour',
      type: 'GROUP',
      members: ['ann', 'dan'],
    })
    expect(created.status).toBe(201)
    const send = (clientMsgId: string) =>
      call(e, 'POST', '/v1/messages', 'ann', {
        conversationId: 'harbour',
        clientMsgId,
        type: 'TEXT',
        body: clientMsgId,
      })
    await eventually(async () => ((await send('h-1')).status === 200 ? true : undefined), {
      what: 'ann’s first message',
    })
    expect((await send('h-2')).status).toBe(200)
    const dansRow = async (app: RunningApp) =>
      (await call(app, 'GET', '/v1/conversations', 'dan')).body.conversations?.find(
        (c) => c.conversationId === 'harbour',
      )
    await eventually(async () => ((await dansRow(e))?.unread === 2 ? true : undefined), {
      what: 'dan’s eu row to count both',
    })

    // dan moves to us: his row, with its unread count, goes there and leaves eu.
    const moved = await httpCall(e.url, 'PUT', '/v1/users/dan', adminToken, { geo: 'us' })
    expect(moved.status).toBe(202)
    const there = await eventually(async () => (await dansRow(u)) ?? undefined, {
      what: 'dan’s row in us',
      timeoutMs: 30_000,
    })
    expect(there).toMatchObject({ unread: 2, remote: true, last: { preview: 'h-2' } })
    await eventually(async () => ((await dansRow(e)) === undefined ? true : undefined), {
      what: 'dan’s eu row gone',
    })
    // Later messages count there only.
    expect((await send('h-3')).status).toBe(200)
    await eventually(async () => ((await dansRow(u))?.unread === 3 ? true : undefined), {
      what: 'h-3 counted in us',
    })
    await new Promise((r) => setTimeout(r, 1_000))
    expect((await dansRow(u))?.unread).toBe(3)
    expect(await dansRow(e)).toBeUndefined()
  })
})
