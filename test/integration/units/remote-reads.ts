// Reads through a unit that only routes a conversation: a large group homed in unit 1 (…b.),
// created through unit 0 (…a.), whose API its members also use. Unit 0 keeps none of the
// group's log, read cursors or merged totals — they are at unit 1 — so a message's read and
// reaction totals and the group's computed list entry, asked through unit 0, are unit 1's
// answer (IMFLOW_REMOTE_UNIT_URLS), whichever unit the reads and reactions were made through.

import { beforeAll, describe, expect, it } from 'vitest'
import type { RunningApp } from '../../../ops/app/app.js'
import { parseMsgId } from '../../../schemas/msg-id.js'
import { eventually, httpCall } from '../helpers.js'
import { acceptedText, callJson, ids, postText, type SharedUnits } from '../units-support.js'

type Json = Record<string, unknown> & {
  read?: number
  counts?: Record<string, number>
  msgId?: string
}

/** On units where three members make a large group: its list entry is computed on read. */
export function readsThroughRoutingUnit(units: SharedUnits): void {
  describe('units: reads through the unit that only routes a conversation', () => {
    const { token, admin } = units
    const { ann, bob, cat, dan, far } = ids('units-reads', 'ann', 'bob', 'cat', 'dan', 'far')
    let unit0: RunningApp
    let unit1: RunningApp
    beforeAll(() => {
      ;[unit0, unit1] = units.apps as [RunningApp, RunningApp]
    })

    const call = (app: RunningApp, method: string, path: string, who: string, body?: object) =>
      callJson<Json>(app, method, path, token(who), body)

    it('answers totals and the computed list entry as the home unit does', {
      timeout: 120_000,
    }, async () => {
      const created = await httpCall(unit0.url, 'POST', '/v1/conversations', admin, {
        conversationId: far,
        type: 'GROUP',
        members: [ann, bob, cat],
        unit: '1',
      })
      expect(created.status).toBe(201)
      const post = (n: number) => postText<Json>(unit0, token(ann), far, `${far}-${n}`)
      // Until both units know the group the answer is UNKNOWN_CONVERSATION; then unit 1's msgId.
      const m1 = await acceptedText(unit0, token(ann), far, `${far}-1`, {}, { timeoutMs: 60_000 })
      expect(parseMsgId(m1).unit).toBe(1)
      const m2 = (await post(2)).body.msgId as string
      const m3 = (await post(3)).body.msgId as string
      expect(parseMsgId(m3).unit).toBe(1)

      // Reads and reactions through either unit: all end up merged at unit 1. A reaction is
      // refused (403) until the unit's merge stage, a consumer group of its own, has read the
      // group's members; repeating one changes nothing.
      const act = (app: RunningApp, who: string, path: string, body: object) =>
        eventually(
          async () =>
            (await call(app, 'POST', `/v1/conversations/${far}/${path}`, who, body)).status === 202
              ? true
              : undefined,
          { what: `${who}'s ${path} accepted` },
        )
      await act(unit0, bob, 'read', { msgId: m2 })
      await act(unit1, cat, 'read', { msgId: m1 })
      await act(unit0, bob, `messages/${m1}/reactions`, { emoji: '👍', op: 'add' })
      await act(unit1, cat, `messages/${m1}/reactions`, { emoji: '🎉', op: 'add' })

      const totals = (m: string, which: string) => `/v1/conversations/${far}/messages/${m}/${which}`
      // The merge stage learns each message from its receipt, apart from the reads: m2's and
      // m3's totals are unknown (404) until it has read theirs.
      await eventually(
        async () => {
          const reads = (await call(unit1, 'GET', totals(m1, 'reads'), ann)).body
          const reactions = (await call(unit1, 'GET', totals(m1, 'reactions'), ann)).body
          const later = await Promise.all(
            [m2, m3].map(async (m) => (await call(unit1, 'GET', totals(m, 'reads'), ann)).status),
          )
          return reads.read === 2 &&
            Object.keys(reactions.counts ?? {}).length === 2 &&
            later.every((status) => status === 200)
            ? true
            : undefined
        },
        { what: 'unit 1 to merge both reads and both reactions, and to know m2 and m3' },
      )
      for (const [m, which] of [
        [m1, 'reads'],
        [m2, 'reads'],
        [m3, 'reads'],
        [m1, 'reactions'],
      ] as const) {
        const home = await call(unit1, 'GET', totals(m, which), ann)
        expect(home.status).toBe(200)
        for (const who of [ann, bob, cat])
          expect(await call(unit0, 'GET', totals(m, which), who)).toEqual(home)
      }
      expect((await call(unit0, 'GET', totals(m2, 'reads'), ann)).body).toMatchObject({
        read: 1,
        unread: 1,
      })
      expect((await call(unit0, 'GET', totals(m1, 'reads'), dan)).status).toBe(403)

      // The large group's list entry: its seq, last message and each caller's unread count, as
      // unit 1 computes them from its log and read cursors.
      const entry = (app: RunningApp, who: string) =>
        call(app, 'GET', `/v1/conversations/${far}`, who)
      for (const [who, unread] of [
        [bob, 1],
        [cat, 2],
        [ann, 0],
      ] as const) {
        // The receiver moves read cursors in a consumer group of its own, apart from the merge.
        const home = await eventually(
          async () => {
            const e = await entry(unit1, who)
            return e.body.unread === unread ? e : undefined
          },
          { what: `${who}'s entry at unit 1 to count ${unread} unread` },
        )
        expect(home.body).toMatchObject({
          large: true,
          memberCount: 3,
          seq: 3,
          unread,
          last: { msgId: m3 },
        })
        expect(await entry(unit0, who)).toEqual(home)
      }
    })
  })
}
