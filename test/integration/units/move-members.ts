// Members changed through a conversation's new home while it moves there (docs/units.md,
// "Members changed during a move"): a group homed in unit 0 (…a.) and created through unit 1
// (…b.), which routes it and keeps the members added through it, is moved to unit 1 through
// unit 0's API; right after, xen is added and yves removed through unit 1's API. Unit 1 applies
// both to what it keeps of the group and forwards them to unit 0, which has moved the group on
// and sends them back: they reach unit 1 after the hand-over. Each is applied once, at the new
// home, against the members the old home handed over: xen is told once that he joined, yves
// once that she left, and nobody is told of the move itself. Before, the change came back to a
// roster that had it already: xen was never told (his list never had the group), yves was told
// she joined again by the hand-over and then that she left.

import { Partitioners } from 'kafkajs'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import type { RunningApp } from '../../../ops/app/app.js'
import { registerContract } from '../../../schemas/contract.js'
import { parseMsgId } from '../../../schemas/msg-id.js'
import { registrySchemaSource } from '../../../schemas/schema-source.js'
import type { SequencedEvent } from '../../../schemas/types.generated.js'
import { eventually, testKafka } from '../helpers.js'
import { acceptedText, callJson, ids, type SharedUnits, setUserHome } from '../units-support.js'

/** Messages unit 0 has to read before the move: unit 1 applies the changes as routing unit. */
const BACKLOG = 1_000

export function membersChangedWhileMoving(units: SharedUnits): void {
  describe('units: members changed through the new home while the conversation moves there', () => {
    const { token, admin } = units
    const { ann, bob, xen, yves, g } = ids('units-move-members', 'ann', 'bob', 'xen', 'yves', 'g')
    let u0: RunningApp
    let u1: RunningApp
    beforeAll(() => {
      ;[u0, u1] = units.apps as [RunningApp, RunningApp]
    })

    /** What `uid` was told of g's membership, in order (true: joined), from its home's stream. */
    const told = async (uid: string) => {
      const events: SequencedEvent[] = []
      for (let after = 0; ; ) {
        const res = await callJson<{ events?: SequencedEvent[] }>(
          u1,
          'GET',
          `/v1/sync?after=${after}&limit=1000`,
          token(uid),
        )
        expect(res.status).toBe(200)
        const page = res.body.events ?? []
        events.push(...page)
        const last = page.at(-1)
        if (!last) break
        after = last.pts
      }
      return events.flatMap(({ event: { payload } }) =>
        payload.kind === 'MembershipChanged' && payload.conversationId === g
          ? [payload.member]
          : [],
      )
    }

    it('applies each once, at the new home, and tells those who joined or left', {
      timeout: 150_000,
    }, async () => {
      for (const uid of [ann, bob, xen, yves]) await setUserHome(units.apps, u1, admin, uid, '1')
      const created = await callJson(u1, 'POST', '/v1/conversations', admin, {
        conversationId: g,
        type: 'GROUP',
        members: [ann, bob, yves],
        unit: '0',
      })
      expect(created.status).toBe(201)
      const first = await acceptedText(u1, token(ann), g, `${g}-first`)
      expect(parseMsgId(first).unit).toBe(0)
      await eventually(async () => ((await told(yves)).length > 0 ? true : undefined), {
        what: 'yves told she joined',
      })

      // Unit 0 busy with the group's partition when the move comes: its hand-over reaches unit 1
      // after the changes below, which unit 1 then applies as the unit that only routes g.
      const codecs = await registerContract(
        registrySchemaSource(inject('schemaRegistryUrl')),
        units.prefix(0),
      )
      const producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner })
      await producer.connect()
      try {
        await producer.send({
          topic: `${units.prefix(0)}im.ingest`,
          messages: Array.from({ length: BACKLOG }, (_, i) => ({
            key: g,
            value: codecs['im.ingest'].encode({
              conversationId: g,
              clientMsgId: `${g}-backlog-${i}`,
              senderId: ann,
              type: 'TEXT',
              body: `backlog ${i}`,
              priority: 'HIGH',
              visibility: 'PRIVATE',
              targets: [ann],
              sentAt: Date.now(),
            }),
          })),
        })
      } finally {
        await producer.disconnect()
      }
      expect(
        (await callJson(u0, 'PATCH', `/v1/conversations/${g}`, admin, { unit: '1' })).status,
      ).toBe(202)
      const changed = await callJson(u1, 'POST', `/v1/conversations/${g}/members`, admin, {
        add: [xen],
        remove: [yves],
      })
      expect(changed.status).toBe(202)

      // Moved: unit 1 gives the next message its msgId.
      let probes = 0
      await eventually(
        async () => {
          const msgId = await acceptedText(u1, token(bob), g, `${g}-probe-${++probes}`)
          return parseMsgId(msgId).unit === 1 ? msgId : undefined
        },
        { what: `${g} homed in unit 1`, timeoutMs: 90_000 },
      )
      await eventually(async () => ((await told(xen)).length > 0 ? true : undefined), {
        what: 'xen told he joined',
      })
      await eventually(async () => ((await told(yves)).includes(false) ? true : undefined), {
        what: 'yves told she left',
      })
      // Each told once; bob, a member all along, told nothing of the move.
      expect(await told(xen)).toEqual([true])
      expect(await told(yves)).toEqual([true, false])
      expect(await told(bob)).toEqual([true])
      // At the new home xen is a member, yves is not.
      const history = (uid: string) =>
        callJson(u1, 'GET', `/v1/conversations/${g}/messages?limit=1`, token(uid))
      expect((await history(xen)).status).toBe(200)
      expect((await history(yves)).status).toBe(403)
      // His list is kept by the inbox, a reader of the hand-off beside the stream's: it may
      // follow the stream by a moment (a gateway asks /v1/conversations/:cid meanwhile).
      await eventually(
        async () => {
          const list = await callJson<{ conversations?: { conversationId: string }[] }>(
            u1,
            'GET',
            '/v1/conversations',
            token(xen),
          )
          return list.body.conversations?.some((c) => c.conversationId === g) ? true : undefined
        },
        { what: `${g} in xen's list` },
      )
    })
  })
}
