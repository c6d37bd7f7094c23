// Users' home units (docs/units.md, "A user's home unit"): ann is homed in unit 0 (…a.), set
// through unit 1's API; her groups are homed in unit 0 and unit 1. Unit 1 hands her share of
// its group's messages to unit 0's inbound, so her list, unread counts, PTS stream and pushes
// are all at unit 0, and unit 1 keeps none of them; a second PUT moves her rows to unit 1.

import { beforeAll, describe, expect, it } from 'vitest'
import { HOME_READ_HEADER as HOME_READ } from '../../../connectors/http/home-routes.js'
import type { RoomFrame, RoomHead, ServerFrame } from '../../../connectors/protocol/frames.js'
import type { RunningApp } from '../../../ops/app/app.js'
import type { SequencedEvent } from '../../../schemas/types.generated.js'
import { eventually, httpCall } from '../helpers.js'
import { acceptedText, deviceSocket, ids, type SharedUnits, setUserHome } from '../units-support.js'

type Entry = { conversationId: string; unread: number; last: { msgId: string } | null }

/** On units where groups of three are large: their messages go to rooms, not to lists. */
export function usersHomeUnit(units: SharedUnits): void {
  describe('units: a user’s home unit', () => {
    const { token, admin } = units
    const { ann, bob, cat, g0, g1, big } = ids('units-home', 'ann', 'bob', 'cat', 'g0', 'g1', 'big')
    let u0: RunningApp
    let u1: RunningApp
    beforeAll(() => {
      ;[u0, u1] = units.apps as [RunningApp, RunningApp]
    })

    const json = async (res: Response) => ({
      status: res.status,
      body: (await res.json().catch(() => ({}))) as Record<string, unknown>,
    })
    const setHome = (via: RunningApp, uid: string, unit: string) =>
      setUserHome([u0, u1], via, admin, uid, unit)
    /** A GET as `uid`; `kept`: what the unit itself keeps (marked as asked on by another API). */
    const get = async (app: RunningApp, path: string, uid: string, kept = false) => {
      const headers = {
        authorization: `Bearer ${token(uid)}`,
        ...(kept ? { [HOME_READ]: '1' } : {}),
      }
      const res = await fetch(`${app.url}${path}`, { headers })
      expect(res.status).toBe(200)
      return (await res.json()) as Record<string, unknown>
    }
    const list = async (app: RunningApp, uid: string, kept = false) => {
      const entries = ((await get(app, '/v1/conversations', uid, kept)).conversations ??
        []) as Entry[]
      return new Map(entries.map((e) => [e.conversationId, e]))
    }
    const syncOf = async (app: RunningApp, uid: string, kept = false) =>
      (await get(app, '/v1/sync?after=0&limit=1000', uid, kept)) as {
        headPts: number
        events: SequencedEvent[]
      }
    const messageIds = (events: readonly SequencedEvent[]) =>
      events.flatMap((e) =>
        e.event.payload.kind === 'NewMessage' ? [e.event.payload.message] : [],
      )

    it('keeps her list, PTS stream and pushes for groups of both units at her home, and moves them', {
      timeout: 120_000,
    }, async () => {
      // A home no unit can forward to is refused, naming it.
      const far = await json(
        await httpCall(u0.url, 'PUT', `/v1/users/${ann}`, admin, { unit: '5' }),
      )
      expect(far.status).toBe(422)
      expect(far.body.code).toBe('IMF_ERR_UNIT_UNREACHABLE')
      expect(String(far.body.detail)).toContain('unit 5')

      await setHome(u1, ann, '0')
      const pushed = openDevice(u0, ann, token(ann))
      try {
        const create = (app: RunningApp, conversationId: string, unit: string) =>
          httpCall(app.url, 'POST', '/v1/conversations', admin, {
            conversationId,
            type: 'GROUP',
            members: [ann, bob],
            unit,
          })
        expect((await create(u0, g0, '0')).status).toBe(201)
        // Routed by unit 0 too (its list entry is asked of unit 1), homed in unit 1.
        expect((await create(u0, g1, '1')).status).toBe(201)
        const post = (app: RunningApp, cid: string, n: number) =>
          acceptedText(
            app,
            token(bob),
            cid,
            `${cid}-${n}`,
            { body: `${cid} ${n}` },
            { timeoutMs: 60_000 },
          )
        // Each group through its home unit's API, one after the other.
        const sent: string[] = []
        for (let n = 1; n <= 3; n++) sent.push(await post(u0, g0, n), await post(u1, g1, n))

        // Her home's list: both groups, three unread each, the last message of each.
        const lists = await eventually(
          async () => {
            const l = await list(u0, ann)
            return l.get(g0)?.unread === 3 && l.get(g1)?.unread === 3 ? l : undefined
          },
          { what: "both groups in ann's list at unit 0", timeoutMs: 60_000 },
        )
        expect(lists.get(g0)?.last?.msgId).toBe(sent[4])
        expect(lists.get(g1)?.last?.msgId).toBe(sent[5])
        // One PTS stream: every message once, gap-free, each group's in order.
        const stream = await eventually(
          async () => {
            const s = await syncOf(u0, ann)
            return messageIds(s.events).length === 6 ? s : undefined
          },
          { what: "ann's six messages in unit 0's stream" },
        )
        const pts = stream.events.map((e) => e.pts)
        expect(pts).toEqual(pts.map((_, i) => (pts[0] as number) + i))
        const ids = messageIds(stream.events).map((m) => m.msgId)
        expect(new Set(ids)).toEqual(new Set(sent))
        for (const cid of [g0, g1]) {
          const ofGroup = messageIds(stream.events).filter((m) => m.conversationId === cid)
          expect(ofGroup.map((m) => m.body)).toEqual([1, 2, 3].map((n) => `${cid} ${n}`))
        }
        // Her device on unit 0's gateway was pushed the same stream.
        const frames = await eventually(
          () => (pushed.events.length >= stream.events.length ? pushed.events : undefined),
          { what: "ann's pushes at unit 0" },
        )
        expect(frames.map((e) => e.pts)).toEqual(pts)
        // Unit 1 keeps nothing of hers (no list row, no sync event), and its API answers her
        // with her home's list and stream.
        expect([...(await list(u1, ann, true)).keys()]).toEqual([])
        expect((await syncOf(u1, ann, true)).events).toEqual([])
        expect(await list(u1, ann)).toEqual(await list(u0, ann))
        expect(await syncOf(u1, ann)).toEqual(await syncOf(u0, ann))
        // A device of hers at unit 1's gateway would be pushed nothing: refused, naming her home.
        const refused = await upgradeRefusal(u1, ann, token(ann))
        expect(refused.status).toBe(400)
        expect(refused.detail).toContain(
          `${ann} is homed in unit 0: connect to its push gateway (${u0.url})`,
        )

        // A large group unit 0 never heard of (created through unit 1): her device on unit 0's
        // gateway follows it (unit 1 answers its head) and is pushed its room event, which unit 1
        // sent to unit 0's rooms; her list at unit 0 shows it as unit 1 counts it.
        const bigCreated = await httpCall(u1.url, 'POST', '/v1/conversations', admin, {
          conversationId: big,
          type: 'GROUP',
          members: [ann, bob, cat],
        })
        expect(bigCreated.status).toBe(201)
        await eventually(
          () => (pushed.heads().some((h) => h.conversationId === big) ? 1 : undefined),
          {
            what: "the large group in the heads of ann's device at unit 0",
          },
        )
        const loud = await post(u1, big, 1)
        const room = await eventually(() => pushed.rooms.find((r) => r.conversationId === big), {
          what: "the large group's room event at ann's device on unit 0",
        })
        expect(room.seq).toBe(1)
        expect(room.event.payload.kind === 'NewMessage' && room.event.payload.message.msgId).toBe(
          loud,
        )
        const bigEntry = (await list(u0, ann)).get(big) as Entry & { large?: boolean; seq?: number }
        expect([bigEntry.large, bigEntry.seq]).toEqual([true, 1])
        // Its history through her home is unit 1's log (403 before: unit 0 never heard of it).
        const bigHistory = `/v1/conversations/${big}/messages`
        const atHome = await get(u0, bigHistory, ann)
        expect((atHome.messages as { msgId: string }[]).map((m) => m.msgId)).toEqual([loud])
        expect(atHome).toEqual(await get(u1, bigHistory, ann))

        // Her private message and her deletion of unit 1's group are kept at her home, and her
        // history there merges them into unit 1's log.
        const secret = await acceptedText(u1, token(bob), g1, `${g1}-p`, {
          body: 'for ann',
          visibility: 'PRIVATE',
          targets: [ann],
        })
        const hidden = sent[1] as string
        const del = await httpCall(
          u0.url,
          'DELETE',
          `/v1/conversations/${g1}/messages/${hidden}`,
          token(ann),
        )
        expect(del.status).toBe(202)
        const page = await eventually(
          async () => {
            const h = await get(u0, `/v1/conversations/${g1}/messages`, ann)
            const ids = (h.messages as { msgId: string }[]).map((m) => m.msgId)
            return ids.includes(secret) && !ids.includes(hidden) ? ids : undefined
          },
          {
            what: "ann's history of the unit-1 group with her private message, without her deletion",
          },
        )
        expect(page).toEqual([secret, sent[5], sent[3]])
        const kept = await eventually(async () => {
          const l = await list(u0, ann)
          return l.get(g1)?.last?.msgId === secret ? l : undefined
        })

        // Moved to unit 1: her rows follow, unread state included; none is left at unit 0.
        await setHome(u0, ann, '1')
        await eventually(
          async () => {
            const l = await list(u1, ann)
            const same = (cid: string) => l.get(cid)?.unread === kept.get(cid)?.unread
            return same(g0) && same(g1) && l.get(g1)?.last?.msgId === secret ? true : undefined
          },
          { what: "ann's rows at unit 1", timeoutMs: 60_000 },
        )
        expect([...(await list(u0, ann, true)).keys()]).toEqual([])
        const next = await post(u0, g0, 4)
        const after = await eventually(
          async () => {
            const l = await list(u1, ann)
            return l.get(g0)?.unread === 4 ? l : undefined
          },
          { what: 'the next message counted at unit 1' },
        )
        expect(after.get(g0)?.last?.msgId).toBe(next)
        expect([...(await list(u0, ann, true)).keys()]).toEqual([])
        expect(await list(u0, ann)).toEqual(after)
      } finally {
        pushed.close()
      }
    })
  })
}

/** A device of `user` on the app's gateway: the events pushed to it, each acked. */
function openDevice(app: RunningApp, user: string, bearer: string) {
  const socket = deviceSocket(app, user, bearer)
  const events: SequencedEvent[] = []
  const rooms: RoomFrame[] = []
  let heads: RoomHead[] = []
  socket.on('message', (data) => {
    const frame = JSON.parse(String(data)) as ServerFrame
    if (frame.type === 'room') rooms.push(frame)
    if (frame.type === 'heads') heads = frame.conversations
    if (frame.type !== 'events') return
    events.push(...frame.events)
    const last = frame.events.at(-1)
    if (last) socket.send(JSON.stringify({ type: 'ack', pts: last.pts }))
  })
  return { events, rooms, heads: () => heads, close: () => socket.terminate() }
}

/** How the app's gateway answers a device's upgrade: the refusal's status and detail (101: open). */
function upgradeRefusal(app: RunningApp, user: string, bearer: string) {
  const socket = deviceSocket(app, user, bearer)
  return new Promise<{ status: number; detail?: string }>((resolve, reject) => {
    socket.once('open', () => {
      socket.terminate()
      resolve({ status: 101 })
    })
    socket.once('unexpected-response', (_request, response) => {
      let body = ''
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString()
      })
      response.on('end', () => {
        socket.terminate()
        resolve({ status: response.statusCode ?? 0, detail: JSON.parse(body).detail })
      })
    })
    socket.once('error', reject)
  })
}
