// Issue #5: two `imflow start` instances share the work (same app id and topics, two
// partitions each). Every API read is answered by either instance with the same, exact
// content — history and conversation lists read stores of both partitions, so each request
// reads some keys here and some through the instance that owns them.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { issueToken } from '../../connectors/http/jwt.js'
import type { RunningApp } from '../../ops/app/app.js'
import { taskOwners } from '../../topologies/runtime/internal/assignor.js'
import { partitionForKey } from '../../topologies/runtime/partitioner.js'
import { eventually, httpCall, startTestApp, testKafka, unique, withAdmin } from './helpers.js'
import { waitForConsumed } from './runtime-support.js'

const secret = 'across-test-secret-0123456789abcdef'
const token = (sub: string, role?: string) => issueToken({ sub, ...(role ? { role } : {}) }, secret)

/** A name of the form `<base>-<n>` whose key lands on `partition` (of 2). */
function keyOn(base: string, partition: number): string {
  for (let n = 0; ; n++) {
    if (partitionForKey(`${base}-${n}`, 2) === partition) return `${base}-${n}`
  }
}

describe('HTTP API: reads across two instances', () => {
  const prefix = `${unique('across')}.`
  const apps: { app: RunningApp; stop(): Promise<void> }[] = []
  const users = [keyOn('ann', 0), keyOn('ben', 1)] as const
  const conversations = [keyOn('team', 0), keyOn('club', 1)] as const

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      apps.push(await startTestApp(prefix, { IMFLOW_JWT_SECRET: secret, IMFLOW_APP_ID: 'imflow' }))
    }
  })
  afterAll(async () => {
    for (const a of apps) await a.stop()
  })

  /** The URL of the instance that owns each task of a topology, once each instance has one. */
  const ownersOf = (topology: string) =>
    eventually(
      () =>
        withAdmin(async (admin) => {
          const { groups } = await admin.describeGroups([`${prefix}imflow-${topology}`])
          const owners = groups[0] ? taskOwners(groups[0]) : undefined
          const urls = [owners?.get(0)?.url, owners?.get(1)?.url]
          return urls.every(Boolean) && urls[0] !== urls[1] ? urls : undefined
        }),
      { timeoutMs: 90_000, what: `${topology}'s two tasks spread over both instances` },
    )

  it('answers history and conversation lists with the same content on both instances', {
    timeout: 180_000,
  }, async () => {
    const [a, b] = apps.map((x) => x.app) as [RunningApp, RunningApp]
    const [ann, ben] = users
    const [team, club] = conversations
    // Each instance owns one task of each: every request below reads the other's partition.
    const receiverOwners = await ownersOf('receiver')
    const inboxOwners = await ownersOf('inbox')
    expect([...receiverOwners].sort()).toEqual([a.url, b.url].sort())
    expect([...inboxOwners].sort()).toEqual([a.url, b.url].sort())

    const admin = token('root', 'admin')
    for (const conversationId of conversations) {
      const res = await httpCall(a.url, 'POST', '/v1/conversations', admin, {
        conversationId,
        type: 'GROUP',
        members: [ann, ben],
      })
      expect(res.status).toBe(201)
    }
    const send = (who: string, conversationId: string, body: string) =>
      eventually(
        async () => {
          const res = await httpCall(b.url, 'POST', '/v1/messages', token(who), {
            conversationId,
            clientMsgId: body,
            type: 'TEXT',
            body,
          })
          return res.status === 200 ? ((await res.json()) as { msgId: string }) : undefined
        },
        { what: `${body} to be accepted` },
      )
    const t1 = await send(ann, team, 'team-1')
    const t2 = await send(ann, team, 'team-2')
    const c1 = await send(ben, club, 'club-1')
    const kafka = testKafka()
    await waitForConsumed(kafka, `${prefix}imflow-receiver`, `${prefix}im.ingest`, 60_000)
    await waitForConsumed(kafka, `${prefix}imflow-inbox`, `${prefix}imflow-fanout`, 60_000)

    const read = async (base: string, path: string, who: string) => {
      const res = await httpCall(base, 'GET', path, token(who))
      expect({ base, path, who, status: res.status }).toEqual({ base, path, who, status: 200 })
      return res.json()
    }
    const history = (page: unknown) =>
      (page as { messages: { msgId: string; senderId: string; body: string }[] }).messages.map(
        ({ msgId, senderId, body }) => ({ msgId, senderId, body }),
      )
    const list = (page: unknown) =>
      (
        page as {
          conversations: {
            conversationId: string
            unread: number
            last: { msgId: string } | null
          }[]
        }
      ).conversations.map((c) => ({ id: c.conversationId, unread: c.unread, last: c.last?.msgId }))

    for (const base of [a.url, b.url]) {
      for (const who of users) {
        const teamPage = await read(base, `/v1/conversations/${team}/messages`, who)
        expect(history(teamPage)).toEqual([
          { msgId: t2.msgId, senderId: ann, body: 'team-2' },
          { msgId: t1.msgId, senderId: ann, body: 'team-1' },
        ])
        expect(history(await read(base, `/v1/conversations/${club}/messages`, who))).toEqual([
          { msgId: c1.msgId, senderId: ben, body: 'club-1' },
        ])
      }
      // Newest first: club's message was sent last. Own messages are not unread.
      expect(list(await read(base, '/v1/conversations', ann))).toEqual([
        { id: club, unread: 1, last: c1.msgId },
        { id: team, unread: 0, last: t2.msgId },
      ])
      expect(list(await read(base, '/v1/conversations', ben))).toEqual([
        { id: club, unread: 0, last: c1.msgId },
        { id: team, unread: 2, last: t2.msgId },
      ])
    }
    // Beyond the fields compared: the two instances answer byte for byte alike.
    for (const path of ['/v1/conversations', `/v1/conversations/${team}/messages`]) {
      expect(await read(a.url, path, ben)).toEqual(await read(b.url, path, ben))
    }

    // The internal read endpoint takes only instances' signed requests, not users' tokens.
    const internal = `/internal/v1/stores/receiver/conversation-messages/${partitionForKey(team, 2)}/entries?limit=10`
    for (const bearer of [undefined, admin]) {
      const res = await httpCall(a.url, 'GET', internal, bearer)
      expect({ status: res.status, code: ((await res.json()) as { code: string }).code }).toEqual({
        status: 401,
        code: 'IMF_ERR_UNAUTHORIZED',
      })
    }
  })
})
