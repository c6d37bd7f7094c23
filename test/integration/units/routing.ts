// A unit that only routes a conversation answers as its home does: three units on the broker
// (…a., …b., …c.), each listing the others' topics and APIs.
// - A member added through the home's API (the routing unit never hears of it) reads, marks
//   read, reacts and deletes for himself through the routing unit; what anyone deletes for
//   themself through it is gone from their history read through it.
// - A device on the routing unit's push gateway learns a moved large group's seq as its home
//   counts it, not the seq the group had when it left.
// - A unit that has not heard of a move (neither old nor new home) routes the conversation's
//   messages and reads to the new home through the old one.
// - A move that cannot be made is refused by the PATCH itself, with the reason.

import { describe, expect, it } from 'vitest'
import type { RoomHead, ServerFrame } from '../../../connectors/protocol/frames.js'
import type { RunningApp } from '../../../ops/app/app.js'
import { parseMsgId } from '../../../schemas/msg-id.js'
import { eventually } from '../helpers.js'
import { callJson, deviceSocket, ids, type SharedUnits } from '../units-support.js'

type Body = Record<string, unknown> & {
  msgId?: string
  seq?: number
  code?: string
  reason?: string
  detail?: string
  counts?: Record<string, number>
  messages?: { msgId: string; body: string }[]
}

/** On three units where three members make a large group (its messages carry a seq). */
export function routingUnitAnswers(units: SharedUnits): void {
  describe('units: a routing unit answers as the home does', () => {
    const { token, admin } = units
    const { ann, bob, cat, dan, eve, far, gone, hd, trio, stay, nowhere } = ids(
      'units-routing',
      'ann',
      'bob',
      'cat',
      'dan',
      'eve',
      'far',
      'gone',
      'hd',
      'trio',
      'stay',
      'nowhere',
    )
    const app = (u: number) => units.app(u)

    const call = (u: number, method: string, path: string, who: string, body?: object) =>
      callJson<Body>(app(u), method, path, who === 'root' ? admin : token(who), body)
    const create = async (u: number, cid: string, unit: string) =>
      expect(
        (
          await call(u, 'POST', '/v1/conversations', 'root', {
            conversationId: cid,
            type: 'GROUP',
            members: [ann, bob, cat],
            unit,
          })
        ).status,
      ).toBe(201)
    let n = 0
    const post = (u: number, cid: string) =>
      call(u, 'POST', '/v1/messages', ann, {
        conversationId: cid,
        clientMsgId: `${cid}-${++n}`,
        type: 'TEXT',
        body: `${cid}-${n}`,
      })
    /** Posts through unit `u` until a message is accepted by `home` (both know the group); its msgId. */
    const acceptedBy = (u: number, cid: string, home: number) =>
      eventually(
        async () => {
          const res = await post(u, cid)
          return res.status === 200 && parseMsgId(res.body.msgId as string).unit === home
            ? (res.body.msgId as string)
            : undefined
        },
        {
          what: `a message to ${cid} through unit ${u} accepted by unit ${home}`,
          timeoutMs: 60_000,
        },
      )
    const history = async (u: number, cid: string, who: string) => {
      const res = await call(u, 'GET', `/v1/conversations/${cid}/messages?limit=200`, who)
      return res.status === 200 ? (res.body.messages ?? []).map((m) => m.msgId) : res.status
    }
    /** Until the call answers `status`: the units apply what others forward in their own time. */
    const until = (
      status: number,
      u: number,
      method: string,
      path: string,
      who: string,
      body?: object,
    ) =>
      eventually(
        async () => ((await call(u, method, path, who, body)).status === status ? true : undefined),
        { what: `${method} ${path} by ${who} through unit ${u} to answer ${status}` },
      )

    it('lets a member added at the home act through the routing unit, and hides what is deleted through it', {
      timeout: 150_000,
    }, async () => {
      await create(0, far, '1') // homed in unit 1, routed by unit 0
      const m1 = await acceptedBy(0, far, 1)
      const m2 = await acceptedBy(0, far, 1)
      // dan joins through the home's API: unit 0 never hears of it.
      expect(
        (await call(1, 'POST', `/v1/conversations/${far}/members`, 'root', { add: [dan] })).status,
      ).toBe(202)
      await until(200, 1, 'GET', `/v1/conversations/${far}/messages`, dan)
      expect(await history(0, far, dan)).toEqual(await history(1, far, dan))
      await until(202, 0, 'POST', `/v1/conversations/${far}/read`, dan, { msgId: m2 })
      await until(202, 0, 'POST', `/v1/conversations/${far}/messages/${m1}/reactions`, dan, {
        emoji: '👍',
        op: 'add',
      })
      await until(202, 0, 'DELETE', `/v1/conversations/${far}/messages/${m1}`, dan)
      await eventually(
        async () => {
          const reactions = await call(
            1,
            'GET',
            `/v1/conversations/${far}/messages/${m1}/reactions`,
            ann,
          )
          const reads = await call(1, 'GET', `/v1/conversations/${far}/messages/${m2}/reads`, ann)
          const dans = await history(0, far, dan)
          return reactions.body.counts?.['👍'] === 1 &&
            reads.body.read === 1 &&
            Array.isArray(dans) &&
            !dans.includes(m1)
            ? true
            : undefined
        },
        { what: 'dan’s read, reaction and deletion applied at unit 1' },
      )
      // Through either unit the same answer; a stranger is refused by both.
      for (const who of [dan, bob, ann])
        expect(await history(0, far, who)).toEqual(await history(1, far, who))
      expect(await history(0, far, eve)).toBe(403)
      expect(
        (await call(0, 'POST', `/v1/conversations/${far}/read`, eve, { msgId: m2 })).status,
      ).toBe(403)
    })

    it('hides a message deleted for oneself through the routing unit in history read through it', {
      timeout: 120_000,
    }, async () => {
      await create(0, gone, '1') // bob is known to both units
      const m1 = await acceptedBy(0, gone, 1)
      const m2 = await acceptedBy(0, gone, 1)
      await until(202, 0, 'DELETE', `/v1/conversations/${gone}/messages/${m1}`, bob)
      await eventually(
        async () => {
          const bobs = await history(0, gone, bob)
          return Array.isArray(bobs) && !bobs.includes(m1) ? bobs : undefined
        },
        { what: 'm1 gone from bob’s history through unit 0' },
      )
      expect(await history(0, gone, bob)).toEqual([m2])
      expect(await history(1, gone, bob)).toEqual([m2])
      expect(await history(0, gone, cat)).toEqual([m2, m1])
    })

    it('gives a device on the routing unit a moved large group’s seq as its new home counts it', {
      timeout: 150_000,
    }, async () => {
      await create(0, hd, '') // homed in unit 0, where bob's list row is made
      await acceptedBy(0, hd, 0)
      expect(
        (await call(0, 'PATCH', `/v1/conversations/${hd}`, 'root', { unit: '1' })).status,
      ).toBe(202)
      await acceptedBy(0, hd, 1)
      await acceptedBy(0, hd, 1)
      const home = (await call(1, 'GET', `/v1/conversations/${hd}`, bob)).body
      expect(home.seq).toBeGreaterThanOrEqual(3)
      const heads = await headsOnLogIn(app(0), bob, token(bob))
      expect(heads).toContainEqual({ conversationId: hd, seq: home.seq })
    })

    it('routes through the old home while a third unit has not heard of a move', {
      timeout: 150_000,
    }, async () => {
      await create(2, trio, '0') // homed in unit 0, routed by unit 2
      await acceptedBy(2, trio, 0)
      expect(
        (await call(0, 'PATCH', `/v1/conversations/${trio}`, 'root', { unit: '1' })).status,
      ).toBe(202)
      await acceptedBy(0, trio, 1) // the move is complete
      // Unit 2 still sends to unit 0, which passes it on: unit 1 answers, to unit 2's API.
      const through2 = await post(2, trio)
      expect(through2.status).toBe(200)
      expect(parseMsgId(through2.body.msgId as string).unit).toBe(1)
      await until(202, 2, 'POST', `/v1/conversations/${trio}/read`, cat, {
        msgId: through2.body.msgId,
      })
      const all = await history(1, trio, cat)
      expect(all).toContain(through2.body.msgId)
      expect(await history(2, trio, cat)).toEqual(all)
    })

    it('refuses a move that cannot be made, saying why', { timeout: 60_000 }, async () => {
      await create(0, stay, '')
      await acceptedBy(0, stay, 0)
      const refused = await call(0, 'PATCH', `/v1/conversations/${stay}`, 'root', { unit: '7' })
      expect(refused.status).toBe(422)
      expect(refused.body).toMatchObject({ code: 'IMF_ERR_UNIT_UNREACHABLE' })
      expect(refused.body.detail).toContain('unit 7')
      const unknown = await call(0, 'PATCH', `/v1/conversations/${nowhere}`, 'root', { unit: '1' })
      expect(unknown.status).toBe(404)
      // Still homed in unit 0, which accepts the next message.
      const next = await post(0, stay)
      expect(parseMsgId(next.body.msgId as string).unit).toBe(0)
    })
  })
}

/** The large-group heads a device of `user` is told when it connects to the app's gateway. */
async function headsOnLogIn(app: RunningApp, user: string, bearer: string): Promise<RoomHead[]> {
  const socket = deviceSocket(app, user, bearer)
  try {
    return await new Promise<RoomHead[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no heads frame in 30 s')), 30_000)
      socket.on('message', (data) => {
        const frame = JSON.parse(String(data)) as ServerFrame
        if (frame.type !== 'heads') return
        clearTimeout(timer)
        resolve(frame.conversations)
      })
      socket.once('error', reject)
    })
  } finally {
    socket.terminate()
  }
}
