// Acting from one's own unit on a conversation that unit never heard of (docs/units.md, "Acting
// from any unit"): dan is homed in unit 1 (…b.); his group is homed in unit 0 (…a.) and created
// through unit 0's API, so unit 1's receiver has no record of it. Through unit 1's API he
// sends (and retries), marks read, reacts, deletes for himself, sends a private message and
// reads history and totals — each answered as at the home (422/403 before) — and the private
// messages he is sent reach his home unit like the group's other messages; his history through
// the group's home unit is his home unit's (it lacked his private messages and deletion).
// fay, moved from unit 1 to unit 0, keeps her private messages and deletions, is pushed none of
// them again, and her phone connected to unit 1 is told to go to unit 0.

import { beforeAll, describe, expect, it } from 'vitest'
import { closeCodes } from '../../../connectors/protocol/frames.js'
import type { RunningApp } from '../../../ops/app/app.js'
import { parseMsgId } from '../../../schemas/msg-id.js'
import type { SequencedEvent } from '../../../schemas/types.generated.js'
import { eventually } from '../helpers.js'
import {
  acceptedText,
  callJson,
  deviceSocket,
  ids,
  postText,
  type SharedUnits,
  setUserHome,
} from '../units-support.js'

type Body = Record<string, unknown> & {
  msgId?: string
  read?: number
  counts?: Record<string, number>
  messages?: { msgId: string; visibility: string }[]
  conversations?: { conversationId: string; unread: number }[]
  events?: SequencedEvent[]
}

export function actingFromHome(units: SharedUnits): void {
  describe('units: acting from one’s own unit', () => {
    const { token, admin } = units
    const { ann, bob, dan, eve, fay, g, moving } = ids(
      'units-act',
      'ann',
      'bob',
      'dan',
      'eve',
      'fay',
      'g',
      'moving',
    )
    let u0: RunningApp
    let u1: RunningApp
    beforeAll(() => {
      ;[u0, u1] = units.apps as [RunningApp, RunningApp]
    })

    const call = (app: RunningApp, method: string, path: string, who: string, body?: object) =>
      callJson<Body>(app, method, path, who === 'root' ? admin : token(who), body)
    const post = (app: RunningApp, who: string, cid: string, id: string, extra: object = {}) =>
      postText<Body>(app, token(who), cid, id, extra)
    const history = async (app: RunningApp, cid: string, who: string) => {
      const res = await call(app, 'GET', `/v1/conversations/${cid}/messages`, who)
      expect(res.status).toBe(200)
      return (res.body.messages ?? []).map((m) => m.msgId)
    }

    const setHome = (via: RunningApp, uid: string, unit: string) =>
      setUserHome([u0, u1], via, admin, uid, unit)

    it('sends, reads, reacts, deletes and reads history through unit 1 on a group only unit 0 knows', {
      timeout: 60_000,
    }, async () => {
      await setHome(u0, dan, '1')
      const created = await call(u0, 'POST', '/v1/conversations', 'root', {
        conversationId: g,
        type: 'GROUP',
        members: [ann, bob, dan],
      })
      expect(created.status).toBe(201)

      // A send through unit 1 is forwarded to unit 0, which answers it (unit 0's msgId).
      const sent = await acceptedText(u1, token(dan), g, 'd1')
      expect(parseMsgId(sent).unit).toBe(0)
      expect((await post(u1, dan, g, 'd1')).body.msgId).toBe(sent) // a retry: the first msgId
      const m2 = (await post(u0, ann, g, 'a2')).body.msgId as string
      expect(m2).toBeDefined()

      // Read receipt, reaction, delete-for-me through unit 1: applied at unit 0. (Retried on a
      // 503: a unit's stores answer once its tasks are open, as a client retries.)
      const accepted = (method: string, path: string, body?: object) =>
        eventually(
          async () => {
            const res = await call(u1, method, path, dan, body)
            if (res.status !== 503) expect([res.status, res.body.detail]).toEqual([202, undefined])
            return res.status === 202 ? true : undefined
          },
          { what: `${method} ${path} by dan through unit 1` },
        )
      await accepted('POST', `/v1/conversations/${g}/read`, { msgId: m2 })
      await accepted('POST', `/v1/conversations/${g}/messages/${m2}/reactions`, {
        emoji: '👍',
        op: 'add',
      })
      await accepted('DELETE', `/v1/conversations/${g}/messages/${sent}`)
      const reads = `/v1/conversations/${g}/messages/${m2}/reads`
      const reactions = `/v1/conversations/${g}/messages/${m2}/reactions`
      await eventually(
        async () => {
          const r = await call(u0, 'GET', reads, ann)
          const c = await call(u0, 'GET', reactions, ann)
          return r.body.read === 1 && c.body.counts?.['👍'] === 1 ? true : undefined
        },
        { what: "dan's read and reaction counted at unit 0" },
      )
      // The totals through unit 1 are unit 0's.
      expect((await call(u1, 'GET', reads, dan)).body).toEqual(
        (await call(u0, 'GET', reads, ann)).body,
      )
      expect((await call(u1, 'GET', reactions, dan)).body).toEqual(
        (await call(u0, 'GET', reactions, ann)).body,
      )
      // His deletion hides his message from his history only; his read clears his unread at home.
      await eventually(
        async () => ((await history(u1, g, dan)).includes(sent) ? undefined : true),
        { what: "dan's deletion applied to his history through unit 1" },
      )
      expect(await history(u1, g, dan)).toEqual([m2])
      expect(await history(u0, g, ann)).toEqual([m2, sent])
      await eventually(
        async () => {
          const list = await call(u1, 'GET', '/v1/conversations', dan)
          const row = list.body.conversations?.find((c) => c.conversationId === g)
          return row?.unread === 0 ? true : undefined
        },
        { what: "dan's row at unit 1 read" },
      )

      // Private messages: his, through unit 1, reach ann; ann's to him reach his home unit.
      const toAnn = await post(u1, dan, g, 'd-p', { visibility: 'PRIVATE', targets: [ann] })
      expect(toAnn.status).toBe(200)
      const toDan = await post(u0, ann, g, 'a-p', { visibility: 'PRIVATE', targets: [dan] })
      expect(toDan.status).toBe(200)
      const [pa, pd] = [toAnn.body.msgId as string, toDan.body.msgId as string]
      await eventually(
        async () => {
          const dans = await history(u1, g, dan)
          const anns = await history(u0, g, ann)
          return dans.includes(pa) && dans.includes(pd) && anns.includes(pa) && anns.includes(pd)
            ? true
            : undefined
        },
        { what: 'both private messages in dan’s history at unit 1 and ann’s at unit 0' },
      )
      expect(await history(u0, g, bob)).toEqual([m2, sent])
      // Through the group's home unit too, his history and entry are his home's: his private
      // messages and deletion are kept there.
      expect(await history(u0, g, dan)).toEqual(await history(u1, g, dan))
      const entry = `/v1/conversations/${g}`
      expect((await call(u0, 'GET', entry, dan)).body).toEqual(
        (await call(u1, 'GET', entry, dan)).body,
      )
      // Ann's private message is in dan's PTS stream at his home unit (pushed there).
      const stream = await call(u1, 'GET', '/v1/sync?after=0&limit=1000', dan)
      const pushed = (stream.body.events ?? []).flatMap((e) =>
        e.event.payload.kind === 'NewMessage' ? [e.event.payload.message.msgId] : [],
      )
      expect(pushed).toContain(pd)

      // Not a member anywhere: refused as before.
      expect((await post(u1, eve, g, 'e1')).status).toBe(422)
      expect(
        (await call(u1, 'POST', `/v1/conversations/${g}/read`, eve, { msgId: m2 })).status,
      ).toBe(403)
    })

    it('moves a user’s private messages and deletions with their home unit, pushing none again', {
      timeout: 60_000,
    }, async () => {
      await setHome(u0, fay, '1')
      const g = moving
      const created = await call(u0, 'POST', '/v1/conversations', 'root', {
        conversationId: g,
        type: 'GROUP',
        members: [ann, fay],
      })
      expect(created.status).toBe(201)
      const n1 = await acceptedText(u0, token(ann), g, 'n1')
      const secret = (await post(u0, ann, g, 'p1', { visibility: 'PRIVATE', targets: [fay] })).body
        .msgId as string
      expect(secret).toBeDefined()
      // Deleted for herself through her home, unit 1, which keeps her deletion and private message.
      await eventually(async () => {
        const res = await call(u1, 'DELETE', `/v1/conversations/${g}/messages/${n1}`, fay)
        return res.status === 202 ? true : undefined
      })
      const before = await eventually(
        async () => {
          const ids = await history(u1, g, fay)
          return ids.join() === secret ? ids : undefined
        },
        { what: 'fay’s history at unit 1: her private message, not what she deleted' },
      )

      // Her phone, connected to her home's gateway when she moves, is sent to the new home.
      const phone = deviceSocket(u1, fay, token(fay))
      const closed = new Promise<{ code: number; reason: string }>((resolve) =>
        phone.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
      )
      await new Promise((resolve, reject) => phone.once('open', resolve).once('error', reject))
      await setHome(u1, fay, '0')
      expect(await closed).toEqual({
        code: closeCodes.movedHome,
        reason: expect.stringContaining(
          `${fay} is homed in unit 0: connect to its push gateway (${u0.url})`,
        ),
      })
      // At her new home the same history: her private message and deletion came along.
      await eventually(
        async () => ((await history(u0, g, fay)).join() === before.join() ? true : undefined),
        { what: 'fay’s history at unit 0 after the move', timeoutMs: 20_000 },
      )
      expect(await history(u1, g, fay)).toEqual(before)
      // Her new stream starts with the moved row; her old private message is not pushed again.
      const stream = await call(u0, 'GET', '/v1/sync?after=0&limit=1000', fay)
      const kinds = (stream.body.events ?? []).map((e) => e.event.payload)
      expect(kinds).toContainEqual(
        expect.objectContaining({ kind: 'MembershipChanged', conversationId: g, member: true }),
      )
      expect(kinds.filter((p) => p.kind === 'NewMessage')).toEqual([])
    })
  })
}
