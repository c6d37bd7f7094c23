// A user with thousands of private messages moves home units in a few records (docs/units.md,
// "Moving"): cat, homed in unit 1 (…b.), is sent 2,000 private messages in a group homed in
// unit 0 (…a.) and deletes one message for herself; moved to unit 0, her inbox at unit 1 sends
// them packed per conversation (FanoutBatch.movedEntries), not one record each. Her history
// through unit 0 is then what it was through unit 1: every private message once, in order,
// the deleted one still hidden.

import { Partitioners } from 'kafkajs'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import type { RunningApp } from '../../../ops/app/app.js'
import { registerContract } from '../../../schemas/contract.js'
import { registrySchemaSource } from '../../../schemas/schema-source.js'
import { eventually, testKafka } from '../helpers.js'
import {
  acceptedText,
  callJson,
  ids,
  type SharedUnits,
  setUserHome,
  wholeHistory,
} from '../units-support.js'

const PRIVATE_MESSAGES = 2_000

export function userMovePacked(units: SharedUnits): void {
  describe('units: a user with thousands of private messages moves in few records', () => {
    const { token, admin } = units
    const { ann, cat, g } = ids('units-user-packed', 'ann', 'cat', 'g')
    let u0: RunningApp
    let u1: RunningApp
    beforeAll(() => {
      ;[u0, u1] = units.apps as [RunningApp, RunningApp]
    })

    const setHome = (via: RunningApp, uid: string, unit: string) =>
      setUserHome([u0, u1], via, admin, uid, unit)
    const post = (cid: string, id: string) => acceptedText(u0, token(ann), cid, id)
    /** cat's whole history of `cid` through `app`, newest first (msgIds). */
    const history = async (app: RunningApp, cid: string) =>
      (await wholeHistory(app, token(cat), cid))?.map((m) => m.msgId)
    /** The end offsets of unit 0's inbound topic, summed (records and transaction markers). */
    const inboundEnd = async () => {
      const admin = testKafka().admin()
      await admin.connect()
      try {
        const offsets = await admin.fetchTopicOffsets(`${units.prefix(0)}imflow-inbound`)
        return offsets.reduce((sum, p) => sum + Number(p.high), 0)
      } finally {
        await admin.disconnect()
      }
    }

    it('sends them packed; her history at the new home is the same, each once, in order', {
      timeout: 180_000,
    }, async () => {
      await setHome(u0, cat, '1')
      const created = await callJson(u0, 'POST', '/v1/conversations', admin, {
        conversationId: g,
        type: 'GROUP',
        members: [ann, cat],
      })
      expect(created.status).toBe(201)
      const gone = await post(g, 'n1') // cat deletes it for herself below
      const codecs = await registerContract(
        registrySchemaSource(inject('schemaRegistryUrl')),
        units.prefix(0),
      )
      const producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner })
      await producer.connect()
      for (let i = 0; i < PRIVATE_MESSAGES; i += 500)
        await producer.send({
          topic: `${units.prefix(0)}im.ingest`,
          messages: Array.from({ length: 500 }, (_, k) => ({
            key: g,
            value: codecs['im.ingest'].encode({
              conversationId: g,
              clientMsgId: `p-${i + k}`,
              senderId: ann,
              type: 'TEXT',
              body: `a private message for cat, number ${i + k}`,
              priority: 'HIGH',
              visibility: 'PRIVATE',
              targets: [cat],
              sentAt: Date.now(),
            }),
          })),
        })
      await producer.disconnect()
      await post(g, 'n2') // behind the private messages on the group's partition
      // Deleted for herself through her home (retried on a 503 while its stores open).
      await eventually(
        async () => {
          const path = `/v1/conversations/${g}/messages/${gone}`
          const res = await callJson(u1, 'DELETE', path, token(cat))
          return res.status === 202 ? true : undefined
        },
        { what: 'cat’s deletion through unit 1' },
      )
      const before = await eventually(
        async () => {
          const ids = await history(u1, g)
          return ids && ids.length === PRIVATE_MESSAGES + 1 && !ids.includes(gone) ? ids : undefined
        },
        {
          what: `cat's history at unit 1: ${PRIVATE_MESSAGES} private messages and n2`,
          timeoutMs: 90_000,
        },
      )

      const start = await inboundEnd()
      await setHome(u1, cat, '0')
      await eventually(
        async () => ((await history(u0, g))?.join() === before.join() ? true : undefined),
        { what: 'cat’s history at unit 0 the same as at unit 1', timeoutMs: 60_000 },
      )
      expect(new Set(before).size).toBe(before.length)
      // Her row, a few packs of private messages and one of deletions (with the transactions'
      // markers), where one record per private message went before.
      const written = (await inboundEnd()) - start
      expect(written).toBeGreaterThan(2)
      expect(written).toBeLessThan(30)
    })
  })
}
