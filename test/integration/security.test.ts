// Security checks on a running imflow: bad tokens (none, expired, another algorithm, another
// secret) on the API and the WebSocket; no member reads another conversation's messages
// (a property over random users and conversations); a device id another user also uses gets
// only its own user's pushes; the internal store routes refuse unsigned, forged and replayed
// requests.

import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { issueToken } from '../../connectors/http/jwt.js'
import { PEER_SIGNATURE_HEADER, peerKey, signPeerRequest } from '../../connectors/http/peer-auth.js'
import type { RunningApp } from '../../ops/app/app.js'
import { RECEIVER_STORES } from '../../topologies/model/index.js'
import { eventually, httpCall, startTestApp, unique } from './helpers.js'

const secret = 'security-test-secret-0123456789abcdef'
const b64 = (data: string) => Buffer.from(data).toString('base64url')

/** A JWT as an attacker would build it: any header, any claims, signed with any key. */
function craftToken(header: object, claims: object, key: string | null): string {
  const head = b64(JSON.stringify(header))
  const body = b64(JSON.stringify(claims))
  const signature =
    key === null ? '' : createHmac('sha256', key).update(`${head}.${body}`).digest('base64url')
  return `${head}.${body}.${signature}`
}

const badTokens: Record<string, string | undefined> = {
  none: undefined,
  expired: issueToken({ sub: 'ann', exp: Math.floor(Date.now() / 1000) - 60 }, secret),
  'alg none': craftToken({ alg: 'none', typ: 'JWT' }, { sub: 'ann' }, null),
  'alg HS384': craftToken({ alg: 'HS384', typ: 'JWT' }, { sub: 'ann' }, secret),
  'another secret': issueToken({ sub: 'ann', role: 'admin' }, 'not-the-secret-0123456789'),
  'not a JWT': 'garbage',
  'no subject': issueToken({ sub: '' }, secret),
}

describe('security', () => {
  const prefix = `${unique('sec')}.`
  let app: RunningApp
  let stop: () => Promise<void>
  const admin = issueToken({ sub: 'root', role: 'admin' }, secret)
  const token = (user: string) => issueToken({ sub: user }, secret)
  const sockets: WebSocket[] = []

  beforeAll(async () => {
    ;({ app, stop } = await startTestApp(prefix, { IMFLOW_JWT_SECRET: secret }))
  })
  afterAll(async () => {
    for (const s of sockets) s.terminate()
    await stop?.()
  })

  const wsUrl = (query: Record<string, string>) =>
    `${app.url.replace(/^http/, 'ws')}/v1/ws?${new URLSearchParams(query)}`

  /** The status an upgrade is refused with (the test fails if the socket opens). */
  const wsRefusal = (url: string, headers: Record<string, string> = {}) =>
    new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(url, { headers })
      sockets.push(socket)
      socket.on('unexpected-response', (_req, res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      socket.on('open', () => reject(new Error('the gateway accepted the connection')))
      socket.on('error', () => {})
    })

  /** Creates a group and waits until a member's message is accepted in it. */
  const group = async (cid: string, members: string[], body: string) => {
    const created = await httpCall(app.url, 'POST', '/v1/conversations', admin, {
      conversationId: cid,
      type: 'GROUP',
      members,
    })
    expect(created.status).toBeLessThan(300)
    await eventually(
      async () => {
        const res = await httpCall(app.url, 'POST', '/v1/messages', token(members[0] as string), {
          conversationId: cid,
          clientMsgId: `first-${cid}`,
          type: 'TEXT',
          body,
        })
        return res.status === 200 ? true : undefined
      },
      { timeoutMs: 60_000, what: `${cid} to take messages` },
    )
  }

  it('refuses bad tokens on the API and on the WebSocket', async () => {
    for (const [name, bad] of Object.entries(badTokens)) {
      for (const [method, path, body] of [
        ['GET', '/v1/conversations', undefined],
        [
          'POST',
          '/v1/messages',
          { conversationId: 'x', clientMsgId: '1', type: 'TEXT', body: 'b' },
        ],
        ['POST', '/v1/conversations', { conversationId: 'x', type: 'GROUP', members: ['a'] }],
        ['GET', '/v1/sync?device=d', undefined],
      ] as const) {
        const res = await httpCall(app.url, method, path, bad, body)
        expect(res.status, `${name}: ${method} ${path}`).toBe(401)
        expect(((await res.json()) as { code: string }).code).toBe('IMF_ERR_UNAUTHORIZED')
      }
      const query = { device: 'd1', lastPts: '0', class: 'WEB' }
      expect(await wsRefusal(wsUrl(bad ? { ...query, token: bad } : query)), name).toBe(401)
      if (bad) {
        const status = await wsRefusal(wsUrl(query), { authorization: `Bearer ${bad}` })
        expect(status, name).toBe(401)
      }
    }
    // A user's token is no admin's.
    const res = await httpCall(app.url, 'POST', '/v1/conversations', token('ann'), {
      conversationId: 'x',
      type: 'GROUP',
      members: ['ann'],
    })
    expect(res.status).toBe(403)
  })

  it('lets nobody read a conversation they are not a member of (random users and groups)', async () => {
    const users = Array.from({ length: 8 }, (_, i) => `u${i}`)
    const seed = Date.now() % 2 ** 31
    const [memberships] = fc.sample(
      fc.array(fc.subarray(users, { minLength: 2, maxLength: 5 }), {
        minLength: 6,
        maxLength: 6,
      }),
      { seed, numRuns: 1 },
    )
    const groups = (memberships as string[][]).map((members, i) => ({
      cid: `g${i}-${seed}`,
      members,
      secret: `secret body of group ${i} (${seed})`,
    }))
    await Promise.all(groups.map((g) => group(g.cid, g.members, g.secret)))
    const msgIds = new Map<string, string>()
    for (const g of groups) {
      const page = await eventually(
        async () => {
          const res = await httpCall(
            app.url,
            'GET',
            `/v1/conversations/${g.cid}/messages`,
            token(g.members[0] as string),
          )
          const json = (await res.json()) as { messages?: { msgId: string; body: string }[] }
          return json.messages?.length ? json.messages : undefined
        },
        { what: `${g.cid}'s history` },
      )
      msgIds.set(g.cid, page[0]?.msgId as string)
      // Merge indexes the message from its receipt, a moment later.
      await eventually(
        async () => {
          const res = await httpCall(
            app.url,
            'GET',
            `/v1/conversations/${g.cid}/messages/${page[0]?.msgId}/reads`,
            token(g.members[0] as string),
          )
          return res.status === 200 ? true : undefined
        },
        { what: `${g.cid}'s message in merge's index` },
      )
    }

    const routes = [
      (cid: string) => `/v1/conversations/${cid}/messages`,
      (cid: string) => `/v1/conversations/${cid}`,
      (cid: string) => `/v1/conversations/${cid}/messages/${msgIds.get(cid)}/reads`,
      (cid: string) => `/v1/conversations/${cid}/messages/${msgIds.get(cid)}/reactions`,
    ]
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...users),
        fc.constantFrom(...groups),
        fc.integer({ min: 0, max: routes.length - 1 }),
        async (user, g, route) => {
          const res = await httpCall(
            app.url,
            'GET',
            (routes[route] as (c: string) => string)(g.cid),
            token(user),
          )
          const text = await res.text()
          if (g.members.includes(user)) {
            expect(res.status, text).toBe(200)
          } else {
            expect([403, 404], text).toContain(res.status)
            expect(text).not.toContain(g.secret)
          }
          // The caller's list and catch-up name only their own conversations.
          const list = await httpCall(app.url, 'GET', '/v1/conversations', token(user))
          const listed = ((await list.json()) as { conversations: { conversationId: string }[] })
            .conversations
          for (const entry of listed) {
            const known = groups.find((x) => x.cid === entry.conversationId)
            if (known) expect(known.members).toContain(user)
          }
          const sync = await (
            await httpCall(app.url, 'GET', '/v1/sync?device=p', token(user))
          ).text()
          for (const other of groups)
            if (!other.members.includes(user)) expect(sync).not.toContain(other.secret)
        },
      ),
      { seed, numRuns: 60 },
    )
  })

  it('keeps a device id two users share apart: each gets only their own pushes', async () => {
    const open = (user: string) => {
      const frames: string[] = []
      const socket = new WebSocket(wsUrl({ device: 'shared', lastPts: '0', class: 'WEB' }), {
        headers: { authorization: `Bearer ${token(user)}` },
      })
      sockets.push(socket)
      socket.on('message', (data) => frames.push(String(data)))
      return {
        socket,
        frames,
        opened: new Promise((resolve, reject) => {
          socket.once('open', resolve)
          socket.once('error', reject)
        }),
      }
    }
    const ann = open('ann')
    await ann.opened
    const ben = open('ben')
    await ben.opened
    await group('ann-and-dan', ['dan', 'ann'], 'for ann only')
    await group('ben-and-dan', ['dan', 'ben'], 'for ben only')
    await eventually(
      () => (ann.frames.some((f) => f.includes('for ann only')) ? true : undefined),
      {
        timeoutMs: 60_000,
        what: 'ann’s push',
      },
    )
    await eventually(
      () => (ben.frames.some((f) => f.includes('for ben only')) ? true : undefined),
      {
        timeoutMs: 60_000,
        what: 'ben’s push',
      },
    )
    // Whatever was pushed by now: ben's socket never saw ann's message, nor ann's ben's.
    await new Promise((r) => setTimeout(r, 1_000))
    expect(ben.frames.join('\n')).not.toContain('for ann only')
    expect(ann.frames.join('\n')).not.toContain('for ben only')
    // Ben's connection with the same device id did not take over ann's.
    expect(ann.socket.readyState).toBe(WebSocket.OPEN)
  })

  it('refuses unsigned, forged and replayed internal store reads', async () => {
    const path = `/internal/v1/stores/receiver/${RECEIVER_STORES.conversations}/0/entry?key=${b64('g0')}`
    const get = (headers: Record<string, string>) =>
      fetch(`${app.url}${path}`, { headers }).then(async (r) => ({
        status: r.status,
        body: await r.text(),
      }))
    const key = peerKey(secret)
    const signed = signPeerRequest(key, 'GET', path)
    expect((await get({})).status).toBe(401)
    // A bearer token, even an admin's, is no instance.
    expect((await get({ authorization: `Bearer ${admin}` })).status).toBe(401)
    expect((await get({ [PEER_SIGNATURE_HEADER]: admin })).status).toBe(401)
    expect(
      (
        await get({
          [PEER_SIGNATURE_HEADER]: signPeerRequest(
            peerKey('another-secret-0123456789'),
            'GET',
            path,
          ),
        })
      ).status,
    ).toBe(401)
    expect(
      (await get({ [PEER_SIGNATURE_HEADER]: signPeerRequest(key, 'GET', `${path}x`) })).status,
    ).toBe(401)
    expect(
      (
        await get({
          [PEER_SIGNATURE_HEADER]: signPeerRequest(key, 'GET', path, Date.now() - 120_000),
        })
      ).status,
    ).toBe(401)
    // Signed right: answered once; the same request again is a replay.
    const first = await get({ [PEER_SIGNATURE_HEADER]: signed })
    expect(first.status, first.body).toBe(200)
    const replay = await get({ [PEER_SIGNATURE_HEADER]: signed })
    expect(replay.status).toBe(401)
    expect(replay.body).toContain('replayed')
  })
})
