// Moving a conversation between two units on one broker while its members keep sending: unit 0
// (…a.) homes a large group (its messages carry a seq), ann posts to it one message after the
// other, and halfway the group is moved to unit 1 (…b.). Unit 1's history then holds every
// accepted message once, in the order they were accepted, with the msgIds the API answered and
// seq 1..n without a gap: the history came along, and what was sent during the move waited for it.
// Then the move's edges: a private message's retry after the move, a LOW message still deferred
// at the old home, a move back before the history arrived, and history read through the unit
// that only routes the conversation (units know each other's API: IMFLOW_REMOTE_UNIT_URLS).

import { Partitioners } from 'kafkajs'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import type { RunningApp } from '../../../ops/app/app.js'
import { registerContract } from '../../../schemas/contract.js'
import { parseMsgId } from '../../../schemas/msg-id.js'
import { registrySchemaSource } from '../../../schemas/schema-source.js'
import { eventually, httpCall, testKafka } from '../helpers.js'
import { acceptedText, ids, type SharedUnits } from '../units-support.js'

type Page = { messages: { msgId: string; body: string; seq?: number }[] }

/** On units where three members make a large group, with no peak shaving in the way of a history written in one go (the LOW test lowers unit 0's capacity itself). */
export function movingUnderTraffic(units: SharedUnits): void {
  describe('units: moving a conversation under traffic', () => {
    const { token, admin } = units
    const { ann, bob, cat, mv, pm, low, again } = ids(
      'units-move',
      'ann',
      'bob',
      'cat',
      'mv',
      'pm',
      'low',
      'again',
    )
    let unit0: RunningApp
    let unit1: RunningApp
    beforeAll(() => {
      ;[unit0, unit1] = units.apps as [RunningApp, RunningApp]
    })

    const history = async (app: RunningApp) => {
      const res = await httpCall(
        app.url,
        'GET',
        `/v1/conversations/${mv}/messages?limit=200`,
        token(bob),
      )
      return res.status === 200 ? ((await res.json()) as Page) : undefined
    }
    const post = (n: number) =>
      httpCall(unit0.url, 'POST', '/v1/messages', token(ann), {
        conversationId: mv,
        clientMsgId: `mv-${n}`,
        type: 'TEXT',
        body: `message ${n}`,
      })

    it('keeps every message once, in order, with its msgId and seq', {
      timeout: 180_000,
    }, async () => {
      const created = await httpCall(unit0.url, 'POST', '/v1/conversations', admin, {
        conversationId: mv,
        type: 'GROUP',
        members: [ann, bob, cat],
      })
      expect(created.status).toBe(201)
      await eventually(() => history(unit0), { what: 'unit 0 to know the group' })

      // One message after the other, as a client does, while the move happens in between.
      const msgIds: string[] = []
      let movedAt: number | undefined
      const sendUntil = async (n: number) => {
        while (msgIds.length < n) {
          const res = await post(msgIds.length + 1)
          expect(res.status).toBe(200)
          msgIds.push(((await res.json()) as { msgId: string }).msgId)
        }
      }
      const traffic = (async () => {
        await sendUntil(25)
        // Keep sending until the move is done and then some: well after the PATCH returned.
        while (movedAt === undefined) await sendUntil(msgIds.length + 1)
        await sendUntil(movedAt + 25)
      })()
      await eventually(() => (msgIds.length >= 10 ? true : undefined), { what: '10 messages' })
      const moved = await httpCall(unit0.url, 'PATCH', `/v1/conversations/${mv}`, admin, {
        unit: '1',
      })
      expect(moved.status).toBe(202)
      // Moved once unit 1 decides: a message's id names the unit that gave it.
      await eventually(
        () => {
          const last = msgIds.at(-1)
          if (last && parseMsgId(last).unit === 1) movedAt = msgIds.length
          return movedAt
        },
        { what: 'a message accepted by unit 1', timeoutMs: 90_000 },
      )
      await traffic

      const expected = msgIds.map((msgId, i) => ({ msgId, body: `message ${i + 1}`, seq: i + 1 }))
      const page = await eventually(
        async () => {
          const p = await history(unit1)
          return p && p.messages.length >= expected.length ? p : undefined
        },
        { what: `unit 1's history to hold ${expected.length} messages`, timeoutMs: 60_000 },
      )
      // Newest first: every accepted message once, in the order accepted, seq without a gap.
      expect(page.messages.map(({ msgId, body, seq }) => ({ msgId, body, seq })).reverse()).toEqual(
        expected,
      )
      expect(new Set(page.messages.map((m) => m.msgId)).size).toBe(expected.length)
      // Both units gave ids: the first ones unit 0 (kept as they were), the last ones unit 1.
      expect(parseMsgId(msgIds[0] as string).unit).toBe(0)
      expect(parseMsgId(msgIds.at(-1) as string).unit).toBe(1)

      // A retry of a message accepted before the move gets its first msgId.
      const retry = await post(1)
      expect(retry.status).toBe(200)
      expect(((await retry.json()) as { msgId: string }).msgId).toBe(msgIds[0])
    })

    const send = (url: string, cid: string, clientMsgId: string, extra: object = {}) =>
      httpCall(url, 'POST', '/v1/messages', token(ann), {
        conversationId: cid,
        clientMsgId,
        type: 'TEXT',
        body: clientMsgId,
        ...extra,
      })
    /** Posted (through unit 0, which forwards once it routes) until accepted; its msgId. */
    const accepted = (app: RunningApp, cid: string, clientMsgId: string, extra: object = {}) =>
      acceptedText(app, token(ann), cid, clientMsgId, extra, { timeoutMs: 60_000 })
    const group = async (cid: string) => {
      const res = await httpCall(unit0.url, 'POST', '/v1/conversations', admin, {
        conversationId: cid,
        type: 'GROUP',
        members: [ann, bob, cat],
      })
      expect(res.status).toBe(201)
      await accepted(unit0, cid, `${cid}-first`)
    }
    const move = async (url: string, cid: string, unit: string) =>
      expect(
        (await httpCall(url, 'PATCH', `/v1/conversations/${cid}`, admin, { unit })).status,
      ).toBe(202)
    /** Messages until one is accepted by `unit` (the move there is complete); that one's msgId. */
    let probes = 0
    const movedTo = (cid: string, unit: number, tag: string) =>
      eventually(
        async () => {
          const msgId = await accepted(unit0, cid, `${cid}-${tag}-${++probes}`)
          return parseMsgId(msgId).unit === unit ? msgId : undefined
        },
        { what: `${cid} to be homed in unit ${unit}`, timeoutMs: 60_000 },
      )
    /** Every page of a user's history, oldest first. */
    const fullHistory = async (url: string, cid: string, user = cat) => {
      const out: { msgId: string; body: string; seq?: number }[] = []
      let before: string | undefined
      for (let i = 0; i < 200; i++) {
        const query = `limit=200${before ? `&before=${encodeURIComponent(before)}` : ''}`
        const res = await httpCall(
          url,
          'GET',
          `/v1/conversations/${cid}/messages?${query}`,
          token(user),
        )
        expect(res.status).toBe(200)
        const page = (await res.json()) as Page & { next?: string | null }
        out.push(...page.messages.map(({ msgId, body, seq }) => ({ msgId, body, seq })))
        if (!page.next) break
        before = page.next
      }
      return out.reverse()
    }

    it('answers a retried private message with its first msgId at the new home; the routing unit serves the home’s history', {
      timeout: 60_000,
    }, async () => {
      await group(pm)
      const whisper = { visibility: 'PRIVATE', targets: [bob] }
      const first = await accepted(unit0, pm, `${pm}-private`, whisper)
      await move(unit0.url, pm, '1')
      await movedTo(pm, 1, 'after')
      // Posted to the new home's own API: only the moved dedupe answer knows it.
      const retry = await send(unit1.url, pm, `${pm}-private`, whisper)
      expect(retry.status).toBe(200)
      expect(((await retry.json()) as { msgId: string }).msgId).toBe(first)
      // Unit 0 keeps no log of pm now: its API reads unit 1's, so both answer the same.
      const atHome = await fullHistory(unit1.url, pm)
      expect(atHome[0]?.body).toBe(`${pm}-first`)
      expect(atHome.at(-1)?.body).toBe(`${pm}-after-${probes}`)
      expect(await fullHistory(unit0.url, pm)).toEqual(atHome)
    })

    it('delivers a LOW message deferred at the old home before the move at the new home, once', {
      timeout: 60_000,
    }, async () => {
      await group(low)
      const limits = async (body?: object) =>
        (await httpCall(unit0.url, body ? 'PUT' : 'GET', '/v1/limits', admin, body)).json()
      const initial = (await limits()) as { capacity: number }
      const lowIds: string[] = []
      try {
        // Next to no capacity: LOW waits in unit 0's lane (its deadline is an hour away).
        await limits({ ...initial, capacity: 0.01 })
        await eventually(
          async () => {
            lowIds.push(await accepted(unit0, low, `${low}-${lowIds.length}`, { priority: 'LOW' }))
            await new Promise((r) => setTimeout(r, 1_000))
            const stored = new Set((await fullHistory(unit0.url, low)).map((m) => m.msgId))
            return stored.has(lowIds.at(-1) as string) ? undefined : true
          },
          { what: 'a LOW message to wait in the lane', timeoutMs: 30_000, intervalMs: 0 },
        )
        await move(unit0.url, low, '1')
        await movedTo(low, 1, 'after')
      } finally {
        await limits(initial) // drained now, at unit 0: delivered at unit 1
      }
      const history = await eventually(
        async () => {
          const h = await fullHistory(unit1.url, low)
          return lowIds.every((id) => h.some((m) => m.msgId === id)) ? h : undefined
        },
        { what: 'every LOW message in unit 1’s history', timeoutMs: 30_000 },
      )
      const ids = history.map((m) => m.msgId)
      expect(new Set(ids).size).toBe(ids.length)
      // Numbered when delivered (a drained LOW message after later HIGH ones): no gap, none twice.
      const seqs = history.map((m) => m.seq ?? 0).sort((x, y) => x - y)
      expect(seqs).toEqual(history.map((_, i) => i + 1))
    })

    it('moves a conversation back before its history arrived: all of it comes back, in order', {
      timeout: 90_000,
    }, async () => {
      await group(again)
      // Longer than one chunk (5,000), so the history is still on its way when it moves back.
      const codecs = await registerContract(
        registrySchemaSource(inject('schemaRegistryUrl')),
        units.prefix(0),
      )
      const producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner })
      await producer.connect()
      for (let i = 0; i < 5_500; i += 500)
        await producer.send({
          topic: `${units.prefix(0)}im.ingest`,
          messages: Array.from({ length: 500 }, (_, k) => ({
            key: again,
            value: codecs['im.ingest'].encode({
              conversationId: again,
              clientMsgId: `${again}-${i + k}`,
              senderId: ann,
              type: 'TEXT',
              body: `${again}-${i + k}`,
              priority: 'HIGH',
              visibility: 'NORMAL',
              targets: [],
              sentAt: Date.now(),
            }),
          })),
        })
      await producer.disconnect()
      await accepted(unit0, again, `${again}-stored`) // behind the 5,500: all stored
      const before = await fullHistory(unit0.url, again)
      expect(before).toHaveLength(5_502)
      await move(unit0.url, again, '1')
      await move(unit0.url, again, '0')
      const last = await movedTo(again, 0, 'back')
      // Everything is back once, in order, seq without a gap; then what was sent meanwhile.
      const after = await fullHistory(unit0.url, again)
      expect(after.slice(0, before.length)).toEqual(before)
      expect(after.slice(before.length).every((m) => m.body.startsWith(`${again}-back-`))).toBe(
        true,
      )
      expect(after.at(-1)?.msgId).toBe(last)
      expect(after.map((m) => m.seq)).toEqual(after.map((_, i) => i + 1))
    })
  })
}
