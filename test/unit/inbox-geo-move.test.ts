// Moving a user's home geo through the test driver (geo-move.ts): the old geo's inbox sends
// the user's list rows, unread state included, to the new geo and keeps none; what still
// arrives for them follows; the new geo merges the moved rows into any it started meanwhile.

import { beforeEach, describe, expect, it } from 'vitest'
import { createEventCodec, type EventCodec } from '../../schemas/codec.js'
import { memorySchemaSource } from '../../schemas/schema-source.js'
import type { FanoutBatch, StoredMessage, UserEvent } from '../../schemas/types.generated.js'
import { inboxTopology } from '../../topologies/inbox/index.js'
import { INBOX_STORES, inboxStores, listKey, unreadIds } from '../../topologies/model/index.js'
import { TopologyTestDriver } from '../../topologies/runtime/index.js'

const US_INBOUND = 'us.imflow-inbound'
let codec: EventCodec<FanoutBatch>
let userCodec: EventCodec<UserEvent>

beforeEach(async () => {
  const source = memorySchemaSource()
  codec = await createEventCodec(source, 'fanout-value', 'FanoutBatch')
  userCodec = await createEventCodec(source, 'im.users-value', 'UserEvent')
})

const inboxIn = (local: string) =>
  new TopologyTestDriver(
    inboxTopology({
      fanout: 'fanout',
      codec,
      homeMove: {
        users: 'im.users',
        userCodec,
        places: {
          geo: local,
          geos: local === 'eu' ? { us: US_INBOUND } : { eu: 'eu.imflow-inbound' },
          unit: 0,
          units: {},
        },
      },
    }),
  )

const message = (conversationId: string, msgId: string): StoredMessage => ({
  msgId,
  conversationId,
  senderId: 'carl',
  clientMsgId: msgId,
  type: 'TEXT',
  body: `body ${msgId}`,
  priority: 'HIGH',
  visibility: 'NORMAL',
  targets: [],
  createdAt: 1_000 + Number(msgId),
  sentAt: 1_000,
  seq: 0,
})

const newMessage = (m: StoredMessage, recipients: string[]): FanoutBatch => ({
  partition: 0,
  recipients,
  sourceId: m.msgId,
  event: { priority: 'HIGH', payload: { kind: 'NewMessage', message: m } },
  updateLists: true,
})

const pipe = (driver: TopologyTestDriver, batch: FanoutBatch) =>
  driver.pipe('fanout', { key: 'c', value: codec.encode(batch), timestamp: 1 })
const moveTo = (driver: TopologyTestDriver, userId: string, geo: string) =>
  driver.pipe('im.users', {
    key: userId,
    value: userCodec.encode({ userId, geo, at: 5 }),
    timestamp: 5,
  })
const row = async (driver: TopologyTestDriver, userId: string, cid: string) => {
  const bytes = await driver.store(INBOX_STORES.lists).get(listKey(userId, cid))
  if (!bytes) return undefined
  const stored = inboxStores.lists.values.deserialize(bytes)
  return { ...stored, unreadIds: unreadIds.unpackUnreadIds(stored.unreadIds) }
}
const decoded = (driver: TopologyTestDriver, topic: string) =>
  Promise.all(driver.read(topic).map((r) => codec.decode(r.value as Buffer)))

describe('inbox: a user moving to another geo', () => {
  it('takes their rows and unread state along, leaves none, and sends on what follows', async () => {
    const eu = inboxIn('eu')
    await pipe(eu, newMessage(message('c', '1'), ['ann', 'bob']))
    await pipe(eu, newMessage(message('c', '2'), ['ann', 'bob']))
    await pipe(eu, newMessage(message('d', '3'), ['bob']))
    expect((await row(eu, 'bob', 'c'))?.unread).toBe(2)

    await moveTo(eu, 'bob', 'us')
    const sent = eu.read(US_INBOUND)
    // Marked as from another geo: us's listed deployment sends them on to bob's unit there.
    expect(sent.map((r) => String(r.headers?.['imflow-from-geo']))).toEqual(['1', '1'])
    const moved = await Promise.all(sent.map((r) => codec.decode(r.value as Buffer)))
    expect(
      moved.map((b) => [
        b.event.payload.kind,
        b.recipients,
        b.movedRow?.unread,
        b.movedRow?.lastMsgId,
      ]),
    ).toEqual([
      ['MembershipChanged', ['bob'], 2, '2'],
      ['MembershipChanged', ['bob'], 1, '3'],
    ])
    expect(await row(eu, 'bob', 'c')).toBeUndefined()
    expect(await row(eu, 'bob', 'd')).toBeUndefined()
    expect((await row(eu, 'ann', 'c'))?.unread).toBe(2) // ann stays

    // A message still handed off here for bob (a receiver that had not seen the move yet).
    await pipe(eu, newMessage(message('c', '4'), ['ann', 'bob']))
    expect((await row(eu, 'ann', 'c'))?.unread).toBe(3)
    expect(await row(eu, 'bob', 'c')).toBeUndefined()
    const followed = await decoded(eu, US_INBOUND)
    expect(followed.map((b) => [b.recipients, b.sourceId])).toEqual([[['bob'], '4']])

    // The new geo: a row started by message 4, then the moved one: counted once each.
    const us = inboxIn('us')
    for (const b of followed) await pipe(us, b)
    for (const b of moved) await pipe(us, b)
    expect(await row(us, 'bob', 'c')).toEqual({
      unread: 3,
      unreadIds: ['1', '2', '4'],
      last: { msgId: '4', senderId: 'carl', type: 'TEXT', preview: 'body 4', createdAt: 1_004 },
    })
    expect((await row(us, 'bob', 'd'))?.unread).toBe(1)

    // Back home: applied here again.
    await moveTo(eu, 'bob', 'eu')
    await pipe(eu, newMessage(message('c', '5'), ['bob']))
    expect(eu.read(US_INBOUND)).toEqual([])
    expect((await row(eu, 'bob', 'c'))?.unread).toBe(1)
  })
})
