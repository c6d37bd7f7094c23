// Sending through one's own unit while a conversation moves into that unit (docs/units.md,
// "Moving into the sender's unit"): members post through unit 1's API (…b.), one message after
// the other each, to two groups homed in unit 0 (…a.) — one unit 1 never heard of (created
// through unit 0's API), one it routes (created through unit 1's API, homed in unit 0) — and
// both are moved to unit 1 meanwhile. Unit 1 forwards what it sends to unit 0 until it has the
// hand-over; what reaches unit 0 after the move used to be rejected (UNKNOWN_UNIT: "never
// back"). Every send is now answered 200 the first time, and unit 1's history holds each
// accepted message once, each sender's in the order sent.

import { beforeAll, describe, expect, it } from 'vitest'
import type { RunningApp } from '../../../ops/app/app.js'
import { parseMsgId } from '../../../schemas/msg-id.js'
import { eventually } from '../helpers.js'
import {
  acceptedText,
  callJson,
  ids,
  postText,
  type SharedUnits,
  wholeHistory,
} from '../units-support.js'

type Body = Record<string, unknown> & {
  msgId?: string
  reason?: string
  messages?: { msgId: string; senderId: string; body: string }[]
  next?: string
}

export function sendingWhileMovingIn(units: SharedUnits): void {
  describe('units: sending through one’s unit while the conversation moves into it', () => {
    const { token, admin } = units
    const { ann, bob, cat, dan, unknown, routed } = ids(
      'units-move-home',
      'ann',
      'bob',
      'cat',
      'dan',
      'unknown',
      'routed',
    )
    const senders = [ann, bob, cat] as const
    let u0: RunningApp
    let u1: RunningApp
    beforeAll(() => {
      ;[u0, u1] = units.apps as [RunningApp, RunningApp]
    })

    const call = (app: RunningApp, method: string, path: string, who: string, body?: object) =>
      callJson<Body>(app, method, path, who === 'root' ? admin : token(who), body)
    const post = (who: string, cid: string, id: string) => postText<Body>(u1, token(who), cid, id)

    /** dan's history of `cid` through unit 1, newest first, every page. */
    const danHistory = (cid: string) =>
      wholeHistory<NonNullable<Body['messages']>[number]>(u1, token(dan), cid)

    it('answers every send the first time, keeps each once and in order', {
      timeout: 120_000,
    }, async () => {
      // unknown: created through unit 0, unit 1 never heard of it; routed: created through unit 1,
      // homed in unit 0, unit 1 routes it.
      const groups = [unknown, routed]
      const members = [...senders, dan]
      expect(
        (
          await call(u0, 'POST', '/v1/conversations', 'root', {
            conversationId: unknown,
            type: 'GROUP',
            members,
          })
        ).status,
      ).toBe(201)
      expect(
        (
          await call(u1, 'POST', '/v1/conversations', 'root', {
            conversationId: routed,
            type: 'GROUP',
            members,
            unit: '0',
          })
        ).status,
      ).toBe(201)

      // Each sender's accepted msgIds per group, in the order sent; every answer that was not 200.
      const sent = new Map<string, string[]>()
      const failures: { who: string; cid: string; status: number; body: Body }[] = []
      let moved = false
      const movedIn = () =>
        groups.every((cid) =>
          senders.every((who) => {
            const ids = sent.get(`${cid}:${who}`) ?? []
            return ids.filter((id) => parseMsgId(id).unit === 1).length >= 5
          }),
        )
      const sender = async (cid: string, who: string) => {
        const ids: string[] = []
        sent.set(`${cid}:${who}`, ids)
        // The first one may meet a unit whose stores are still opening (503): as a client, retry.
        const first = await acceptedText(u1, token(who), cid, `${cid}-${who}-0`)
        ids.push(first)
        // Then one after the other, never retried: each answer counts. (A clientMsgId is the
        // sender's, whatever the conversation: each group gets its own.)
        for (let n = 1; !(moved && movedIn()) && n < 2_000; n++) {
          const res = await post(who, cid, `${cid}-${who}-${n}`)
          if (res.status === 200 && res.body.msgId) ids.push(res.body.msgId)
          else failures.push({ who, cid, status: res.status, body: res.body })
        }
      }
      const traffic = Promise.all(groups.flatMap((cid) => senders.map((who) => sender(cid, who))))
      await eventually(
        () => ([...sent.values()].every((ids) => ids.length >= 3) ? true : undefined),
        { what: 'three messages from each sender to each group' },
      )
      for (const cid of groups)
        expect(
          (await call(u0, 'PATCH', `/v1/conversations/${cid}`, 'root', { unit: '1' })).status,
        ).toBe(202)
      moved = true
      await traffic

      expect(failures).toEqual([])
      for (const cid of groups) {
        const expected = senders.flatMap((who) => sent.get(`${cid}:${who}`) ?? [])
        const page = await eventually(
          async () => {
            const got = await danHistory(cid)
            return got && got.length >= expected.length ? got : undefined
          },
          { what: `unit 1's history of ${cid} to hold ${expected.length} messages` },
        )
        // Each accepted message once; oldest first, each sender's in the order sent.
        expect(page.map((m) => m.msgId).sort()).toEqual([...expected].sort())
        const oldestFirst = [...page].reverse()
        for (const who of senders)
          expect(oldestFirst.filter((m) => m.senderId === who).map((m) => m.msgId)).toEqual(
            sent.get(`${cid}:${who}`),
          )
      }
    })
  })
}
