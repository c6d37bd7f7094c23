// Two moves of one conversation at once, through different units, on the broker: unit 2 (…c.)
// routes a large group homed in unit 0 (…a.); a PATCH through unit 0 moves it to unit 1 and, at
// the same moment, a PATCH through unit 2 — which never hears of the first move — moves it to
// unit 2, while ann posts one message after another through unit 0. Whichever order the moves
// reach the group's home in, they are applied one after the other by the home of the moment:
// in the end every unit sends the group's messages to one home, which holds every accepted
// message once, in the order accepted, seq 1..n; the history read through each unit is the same.

import { describe, expect, it } from 'vitest'
import type { RunningApp } from '../../../ops/app/app.js'
import { parseMsgId } from '../../../schemas/msg-id.js'
import { eventually, httpCall } from '../helpers.js'
import { ids, type SharedUnits } from '../units-support.js'

type Page = { messages: { msgId: string; body: string; seq?: number }[]; next?: string | null }

/** On three units where three members make a large group (its messages carry a seq). */
export function twoMovesAtOnce(units: SharedUnits): void {
  describe('units: two moves at once, through different units', () => {
    const { token, admin } = units
    const { ann, bob, cat, race } = ids('units-race', 'ann', 'bob', 'cat', 'race')
    const unit = (u: number): RunningApp => units.app(u)
    const post = (u: number, clientMsgId: string) =>
      httpCall(unit(u).url, 'POST', '/v1/messages', token(ann), {
        conversationId: race,
        clientMsgId,
        type: 'TEXT',
        body: clientMsgId,
      })
    /** Every page of cat's history through a unit's API, oldest first. */
    const history = async (u: number) => {
      const out: { msgId: string; body: string; seq?: number }[] = []
      let before: string | undefined
      for (let i = 0; i < 50; i++) {
        const query = `limit=200${before ? `&before=${encodeURIComponent(before)}` : ''}`
        const res = await httpCall(
          unit(u).url,
          'GET',
          `/v1/conversations/${race}/messages?${query}`,
          token(cat),
        )
        expect(res.status).toBe(200)
        const page = (await res.json()) as Page
        out.push(...page.messages.map(({ msgId, body, seq }) => ({ msgId, body, seq })))
        if (!page.next) break
        before = page.next
      }
      return out.reverse()
    }

    it('ends with one home holding every accepted message once, in order', {
      timeout: 240_000,
    }, async () => {
      const created = await httpCall(unit(2).url, 'POST', '/v1/conversations', admin, {
        conversationId: race,
        type: 'GROUP',
        members: [ann, bob, cat],
        unit: '0',
      })
      expect(created.status).toBe(201)
      const msgIds: string[] = []
      const refused: string[] = []
      let n = 0
      /**
       * One message through unit 0, as a client sends it: a timeout (504: the outcome unknown) is
       * retried with the same clientMsgId, so its first answer comes; the final answer is kept.
       */
      const next = async () => {
        const clientMsgId = `r-${++n}`
        for (let attempt = 0; attempt < 10; attempt++) {
          const res = await post(0, clientMsgId)
          const body = (await res.json()) as { msgId?: string; reason?: string }
          if (res.status === 200) msgIds.push(body.msgId as string)
          else if (res.status >= 500) continue
          else refused.push(`${res.status} ${body.reason ?? ''}`)
          return res.status
        }
        throw new Error(`${clientMsgId} got no answer in 10 attempts`)
      }
      await eventually(async () => ((await next()) === 200 ? true : undefined), {
        what: 'unit 0 to accept the first message',
        timeoutMs: 60_000,
      })
      refused.length = 0 // before the group was known: not part of the race
      for (let i = 0; i < 5; i++) await next()

      // The race: both PATCHes at once; unit 2 thinks the group is still at unit 0.
      const traffic = (async () => {
        for (let i = 0; i < 40; i++) await next()
      })()
      const [toOne, toTwo] = await Promise.all([
        httpCall(unit(0).url, 'PATCH', `/v1/conversations/${race}`, admin, { unit: '1' }),
        httpCall(unit(2).url, 'PATCH', `/v1/conversations/${race}`, admin, { unit: '2' }),
      ])
      expect([toOne.status, toTwo.status]).toEqual([202, 202])
      await traffic

      // Settled: a message through any unit is decided by one and the same home.
      const home = await eventually(
        async () => {
          const homes = new Set<number>()
          for (const u of [0, 1, 2]) {
            const res = await post(u, `probe-${u}-${++n}`)
            if (res.status !== 200) return undefined
            const { msgId } = (await res.json()) as { msgId: string }
            homes.add(parseMsgId(msgId).unit)
          }
          return homes.size === 1 ? [...homes][0] : undefined
        },
        {
          what: 'all three units to send the group to one home',
          timeoutMs: 120_000,
          intervalMs: 500,
        },
      )
      expect([1, 2]).toContain(home)
      // Every message accepted through unit 0 is there once, in the order accepted, seq 1..n.
      const atHome = await history(home as number)
      const fromZero = atHome.filter((m) => m.body.startsWith('r-'))
      expect(fromZero.map((m) => m.msgId)).toEqual(msgIds)
      expect(atHome.map((m) => m.seq)).toEqual(atHome.map((_, i) => i + 1))
      expect(new Set(atHome.map((m) => m.msgId)).size).toBe(atHome.length)
      // A message was never left unanswered: any refusal says why (the client may retry it).
      for (const r of refused) expect(r).toMatch(/^422 UNKNOWN_(UNIT|CONVERSATION)$/)
      // Read through the units that only route it, the history is the home's.
      for (const u of [0, 1, 2]) expect(await history(u)).toEqual(atHome)
    })
  })
}
