// Users' home units (user-home.ts): a user homed in another unit gets their share of what a
// conversation's home unit hands off on that unit's inbound — once per unit, whatever the
// partition count — and a large group's room event goes to each unit its members are homed
// in; a user who moves to another unit takes their list rows along, like a geo move.

import { beforeEach, describe, expect, it } from 'vitest'
import { nextUserEvent } from '../../connectors/http/user-routes.js'
import { createEventCodec, type EventCodec } from '../../schemas/codec.js'
import { memorySchemaSource } from '../../schemas/schema-source.js'
import type {
  ConversationEvent,
  FanoutBatch,
  SendMessage,
  StoredMessage,
  UserEvent,
} from '../../schemas/types.generated.js'
import { inboxTopology } from '../../topologies/inbox/index.js'
import { FOLLOW_NEW_MOVES_MS } from '../../topologies/inbox/user-moves.js'
import { deletedKey, INBOX_STORES, inboxKey, listKey } from '../../topologies/model/index.js'
import { FROM_GEO_HEADER } from '../../topologies/receiver/inbound.js'
import {
  type HomePlaces,
  inboundTopology,
  splitByHome,
  type UnitTopics,
  userHome,
  VIA_INBOUND_HEADER,
} from '../../topologies/receiver/index.js'
import { ROOM_HOMES_KEPT_MS, RoomHomes } from '../../topologies/receiver/room-homes.js'
import { TopologyTestDriver } from '../../topologies/runtime/index.js'
import { type ReceiverCodecs, receiverCodecs } from './receiver-codecs.js'
import { UNIT_TOPICS, unitDriver } from './receiver-units-support.js'

const places: HomePlaces = { geo: 'eu', geos: { us: 1 }, unit: 1, units: { '0': 1, '2': 1 } }

describe('userHome: where a user is homed when not here', () => {
  it('is another listed geo first, then another listed unit; anything else is here', () => {
    expect(userHome({ geo: 'us', unit: '0' }, places)).toEqual({ geo: 'us' })
    expect(userHome({ geo: 'eu', unit: '0' }, places)).toEqual({ unit: '0' })
    expect(userHome({ geo: 'eu', unit: '02' }, places)).toEqual({ unit: '2' })
    expect(userHome({ geo: 'eu', unit: '1' }, places)).toBeUndefined()
    expect(userHome({ geo: 'eu', unit: '7' }, places)).toBeUndefined()
    expect(userHome({ geo: 'ap', unit: null }, places)).toBeUndefined()
    expect(userHome({}, places)).toBeUndefined()
  })

  it('splits recipients into here and one share per home', () => {
    const homes: Record<string, { geo: string; unit: string }> = {
      ann: { geo: 'eu', unit: '0' },
      bob: { geo: 'eu', unit: '1' },
      cat: { geo: 'us', unit: '0' },
      dan: { geo: 'eu', unit: '0' },
    }
    const split = splitByHome(['ann', 'bob', 'cat', 'dan', 'eve'], (u) =>
      homes[u] ? userHome(homes[u], places) : undefined,
    )
    expect(split.local).toEqual(['bob', 'eve'])
    expect([...split.remote]).toEqual([
      ['unit:0', { home: { unit: '0' }, users: ['ann', 'dan'] }],
      ['geo:us', { home: { geo: 'us' }, users: ['cat'] }],
    ])
  })
})

describe('PUT /v1/users/:uid: the record it writes', () => {
  it('keeps what the PUT leaves out, normalizes the unit and clears it with ""', () => {
    const kept: UserEvent = { userId: 'ann', geo: 'us', at: 1, unit: '2' }
    expect(nextUserEvent('ann', { unit: '01' }, kept, 'eu', 9)).toEqual({
      ...kept,
      at: 9,
      unit: '1',
    })
    expect(nextUserEvent('ann', { geo: 'eu' }, kept, 'eu', 9)).toEqual({
      ...kept,
      geo: 'eu',
      at: 9,
    })
    expect(nextUserEvent('ann', { unit: '' }, kept, 'eu', 9).unit).toBeNull()
    // Nothing kept: this deployment's geo, no home unit unless given.
    expect(nextUserEvent('bob', { unit: '0' }, undefined, 'eu', 9)).toEqual({
      userId: 'bob',
      geo: 'eu',
      at: 9,
      unit: '0',
    })
    expect(nextUserEvent('bob', { geo: 'us' }, undefined, 'eu', 9).unit).toBeNull()
  })
})

describe('RoomHomes: a large group’s member homes, kept a moment', () => {
  it('asks again for a new member list, after a second, and with members who just left', () => {
    let asked = 0
    let clock = 0
    const homes: Record<string, string> = { ann: '0', dan: '2' }
    const room = new RoomHomes(
      (u) => {
        asked++
        return userHome({ geo: 'eu', unit: homes[u] }, places)
      },
      () => clock,
    )
    const members = ['ann', 'bob']
    expect(room.of('g', members, [])).toEqual([{ unit: '0' }])
    expect(room.of('g', members, [])).toEqual([{ unit: '0' }])
    expect(asked).toBe(2)
    homes.bob = '2'
    clock = ROOM_HOMES_KEPT_MS - 1
    expect(room.of('g', members, [])).toEqual([{ unit: '0' }])
    clock = ROOM_HOMES_KEPT_MS
    expect(room.of('g', members, [])).toEqual([{ unit: '0' }, { unit: '2' }])
    // A membership change makes a new list; one who just left is asked about (never kept).
    const alone = ['ann']
    expect(room.of('g', alone, [])).toEqual([{ unit: '0' }])
    expect(room.of('g', alone, ['dan'])).toEqual([{ unit: '0' }, { unit: '2' }])
    expect(room.of('g', alone, [])).toEqual([{ unit: '0' }])
    expect(asked).toBe(2 + 2 + 1 + 2 + 0)
  })
})

const now = Date.UTC(2026, 10, 27, 12)
const A = UNIT_TOPICS[0] as Required<UnitTopics>
let codecs: ReceiverCodecs
let userCodec: EventCodec<UserEvent>

beforeEach(async () => {
  codecs = await receiverCodecs()
  userCodec = await createEventCodec(memorySchemaSource(), 'im.users-value', 'UserEvent')
})

/** Unit 1's receiver (of two); ann and dan are homed in unit 0. */
const unit1 = (largeGroupThreshold = 500) =>
  unitDriver(codecs, 1, 2, {
    unitOf: (u) => (u === 'ann' || u === 'dan' ? '0' : undefined),
    largeGroupThreshold,
    clock: () => now,
  })

async function groupAndMessage(driver: TopologyTestDriver, members: string[]) {
  const created: ConversationEvent = {
    conversationId: 'g',
    actorId: 'root',
    at: now,
    change: {
      kind: 'ConversationCreated',
      conversationType: 'GROUP',
      members,
      admins: [],
      unit: '',
    },
  }
  await driver.pipe('im.conversations', {
    key: 'g',
    value: codecs.conversationEvent.encode(created),
    timestamp: now,
  })
  const m: SendMessage = {
    conversationId: 'g',
    clientMsgId: 'm1',
    senderId: 'bob',
    type: 'TEXT',
    body: 'hi',
    priority: 'HIGH',
    visibility: 'NORMAL',
    targets: [],
    sentAt: now,
  }
  await driver.pipe('im.ingest', { key: 'g', value: codecs.sendMessage.encode(m), timestamp: now })
}

const batches = (d: TopologyTestDriver, topic: string) =>
  Promise.all(d.read(topic).map((r) => codecs.fanoutBatch.decode(r.value as Buffer)))

describe('receiver: recipients homed in another unit', () => {
  it('hands their share to that unit’s inbound once, the rest here', async () => {
    const d = unit1()
    await groupAndMessage(d, ['ann', 'bob', 'cat', 'dan'])
    const kinds = async (topic: string) =>
      (await batches(d, topic)).map((b) => [b.event.payload.kind, [...b.recipients].sort()])
    // The creation's membership events and the message: one record each for unit 0's two users.
    const there = await kinds(A.inbound)
    expect(there).toContainEqual(['NewMessage', ['ann', 'dan']])
    expect(there.filter(([k]) => k === 'NewMessage')).toHaveLength(1)
    const here = (await kinds('fanout')).filter(([k]) => k === 'NewMessage')
    expect(here.flatMap(([, r]) => r as string[]).sort()).toEqual(['bob', 'cat'])
  })

  it('hands a private message, in a small or a large group, to each target’s home', async () => {
    for (const threshold of [500, 2]) {
      const d = unit1(threshold)
      await groupAndMessage(d, ['ann', 'bob', 'cat', 'dan'])
      d.read('im.rooms')
      d.read(A.rooms)
      await batches(d, A.inbound)
      await batches(d, 'fanout')
      const secret: SendMessage = {
        conversationId: 'g',
        clientMsgId: 'p1',
        senderId: 'bob',
        type: 'TEXT',
        body: 'for ann',
        priority: 'HIGH',
        visibility: 'PRIVATE',
        targets: ['ann'],
        sentAt: now,
      }
      await d.pipe('im.ingest', {
        key: 'g',
        value: codecs.sendMessage.encode(secret),
        timestamp: now,
      })
      const news = async (topic: string) =>
        (await batches(d, topic)).flatMap((b) =>
          b.event.payload.kind === 'NewMessage'
            ? [[b.event.payload.message.visibility, b.recipients.join()]]
            : [],
        )
      // ann's copy at her home unit, bob's here; no one else's, and no room event.
      expect(await news(A.inbound)).toEqual([['PRIVATE', 'ann']])
      expect(await news('fanout')).toEqual([['PRIVATE', 'bob']])
      expect(d.read('im.rooms')).toEqual([])
      expect(d.read(A.rooms)).toEqual([])
    }
  })

  it('sends a large group’s room event to each unit its members are homed in', async () => {
    const d = unit1(2)
    await groupAndMessage(d, ['ann', 'bob', 'cat'])
    const rooms = (topic: string) =>
      Promise.all(d.read(topic).map((r) => codecs.roomEvent.decode(r.value as Buffer)))
    const local = (await rooms('im.rooms')).map((r) => r.seq)
    expect(local).toEqual([1])
    expect((await rooms(A.rooms)).map((r) => r.seq)).toEqual(local)
    expect(d.read(A.inbound).length + d.read('fanout').length).toBeGreaterThan(0)
  })
})

/** Unit 1's inbox; `replica`: its instance's im.users, as the receivers split by it. */
const inboxOfUnit1 = (replica: Record<string, UserEvent> = {}) =>
  new TopologyTestDriver(
    inboxTopology({
      fanout: 'fanout',
      codec: codecs.fanoutBatch as EventCodec<FanoutBatch>,
      homeMove: {
        users: 'im.users',
        userCodec,
        places: { geo: 'eu', geos: {}, unit: 1, units: { '0': A.inbound } },
        userOf: (u) => replica[u],
      },
    }),
  )

describe('inbox: a user moving to another unit', () => {
  it('takes their rows to that unit’s inbound and keeps none', async () => {
    const inbox = inboxOfUnit1()
    const d = unit1()
    await groupAndMessage(d, ['bob', 'cat'])
    for (const r of d.read('fanout'))
      await inbox.pipe('fanout', { ...r, partition: 0, timestamp: now })
    expect(await inbox.store(INBOX_STORES.lists).get(listKey('cat', 'g'))).toBeDefined()
    const move = { userId: 'cat', geo: 'eu', at: now, unit: '0' }
    await inbox.pipe('im.users', { key: 'cat', value: userCodec.encode(move), timestamp: now })
    expect(await inbox.store(INBOX_STORES.lists).get(listKey('cat', 'g'))).toBeUndefined()
    const moved = await batches(inbox, A.inbound)
    expect(moved.map((b) => [b.recipients, b.movedRow?.unread])).toEqual([[['cat'], 1]])
  })

  it('takes their private messages and deletions along, marked as moved, and keeps none', async () => {
    const inbox = inboxOfUnit1()
    const secret: StoredMessage = {
      msgId: '7',
      conversationId: 'g',
      senderId: 'bob',
      clientMsgId: 'p1',
      type: 'TEXT',
      body: 'for cat',
      priority: 'HIGH',
      visibility: 'PRIVATE',
      targets: ['cat'],
      sentAt: now,
      createdAt: now,
      seq: 0,
    }
    const handOff = (sourceId: string, payload: FanoutBatch['event']['payload']) =>
      inbox.pipe('fanout', {
        key: 'g',
        partition: 0,
        timestamp: now,
        value: codecs.fanoutBatch.encode({
          partition: 0,
          recipients: ['cat'],
          sourceId,
          event: { priority: 'HIGH', payload },
          updateLists: true,
        }),
      })
    await handOff('7', { kind: 'NewMessage', message: secret })
    await handOff('deleted:cat:5', { kind: 'MessageDeleted', conversationId: 'g', msgId: '5' })
    const move = { userId: 'cat', geo: 'eu', at: now, unit: '0' }
    await inbox.pipe('im.users', { key: 'cat', value: userCodec.encode(move), timestamp: now })
    const moved = await batches(inbox, A.inbound)
    expect(moved.map((b) => [b.event.payload.kind, b.movedFrom ?? null])).toEqual([
      ['MembershipChanged', null], // the row: sequenced there, so devices learn the conversation
      ['ConversationChanged', 'unit:1'],
      ['ConversationChanged', 'unit:1'],
    ])
    expect(moved.slice(1).map((b) => b.movedEntries)).toEqual([
      { privateMessages: [secret], deletedMsgIds: [] },
      { privateMessages: [], deletedMsgIds: ['5'] },
    ])
    expect(moved.every((b) => b.recipients.join() === 'cat')).toBe(true)
    for (const store of [INBOX_STORES.inbox, INBOX_STORES.deleted, INBOX_STORES.lists]) {
      let left = 0
      for await (const _ of inbox.store(store).range()) left++
      expect(left).toBe(0)
    }
    // Unit 0's inbox keeps them for her: history merges them there.
    const there = new TopologyTestDriver(
      inboxTopology({ fanout: 'fanout', codec: codecs.fanoutBatch as EventCodec<FanoutBatch> }),
    )
    for (const r of moved)
      await there.pipe('fanout', {
        key: 'g',
        partition: 0,
        timestamp: now,
        value: codecs.fanoutBatch.encode({ ...r, partition: 0 }),
      })
    expect(await there.store(INBOX_STORES.inbox).get(inboxKey('cat', 'g', now, '7'))).toBeDefined()
    expect(await there.store(INBOX_STORES.deleted).get(deletedKey('cat', 'g', '5'))).toBeDefined()
    const row = await there.store(INBOX_STORES.lists).get(listKey('cat', 'g'))
    expect(row).toBeDefined()
  })
})

describe('inbox: a share handed off here just before the receiver learnt of a move', () => {
  it('follows the user when this unit’s replica says they are homed elsewhere, once', async () => {
    const replica: Record<string, UserEvent> = {}
    const inbox = inboxOfUnit1(replica)
    const d = unit1()
    await groupAndMessage(d, ['bob', 'cat'])
    // The receiver split by a replica without cat's home; it has it by the time the inbox runs.
    replica.cat = { userId: 'cat', geo: 'eu', at: now, unit: '0' }
    for (const r of d.read('fanout'))
      await inbox.pipe('fanout', { ...r, partition: 0, timestamp: now })
    expect(await inbox.store(INBOX_STORES.lists).get(listKey('cat', 'g'))).toBeUndefined()
    expect(await inbox.store(INBOX_STORES.lists).get(listKey('bob', 'g'))).toBeDefined()
    const followed = await batches(inbox, A.inbound)
    expect(followed.some((b) => b.event.payload.kind === 'NewMessage')).toBe(true)
    expect(new Set(followed.flatMap((b) => b.recipients))).toEqual(new Set(['cat']))
    // What came through the inbound (another unit's receiver sent it here) is applied,
    // whatever this replica says: replicas that disagree a moment pass nothing back and forth.
    const other = unit1()
    await groupAndMessage(other, ['bob', 'cat'])
    const via = { [VIA_INBOUND_HEADER]: '1' }
    for (const r of other.read('fanout'))
      await inbox.pipe('fanout', { ...r, partition: 0, timestamp: now, headers: via })
    expect(await inbox.store(INBOX_STORES.lists).get(listKey('cat', 'g'))).toBeDefined()
    expect(inbox.read(A.inbound)).toEqual([])
  })
})

describe('inbox: a user who moved lately, though nothing of theirs is here yet', () => {
  it('is followed: a share handed here before the move goes after them; not after a move long ago', async () => {
    const inbox = inboxOfUnit1()
    await inbox.advanceWallClock(now)
    const moved = (userId: string, at: number) =>
      inbox.pipe('im.users', {
        key: userId,
        value: userCodec.encode({ userId, geo: 'eu', at, unit: '0' }),
        timestamp: now,
      })
    await moved('cat', now - 1_000)
    await moved('eve', now - FOLLOW_NEW_MOVES_MS - 1)
    // A group they had just joined: another unit's receiver, whose replica had not learnt of
    // the moves, handed their share here (through the inbound).
    const d = unit1()
    await groupAndMessage(d, ['bob', 'cat', 'eve'])
    const via = { [VIA_INBOUND_HEADER]: '1' }
    for (const r of d.read('fanout'))
      await inbox.pipe('fanout', { ...r, partition: 0, timestamp: now, headers: via })
    expect(await inbox.store(INBOX_STORES.lists).get(listKey('cat', 'g'))).toBeUndefined()
    const followed = await batches(inbox, A.inbound)
    expect(followed.map((b) => [b.event.payload.kind, b.recipients])).toEqual([
      ['MembershipChanged', ['cat']],
      ['NewMessage', ['cat']],
    ])
    // Moved long ago: whoever handed it here knows best (the rule before).
    expect(await inbox.store(INBOX_STORES.lists).get(listKey('eve', 'g'))).toBeDefined()
  })
})

describe('inbox: a new message handed off before its recipient moved, reaching the old home after', () => {
  it('goes to the new home as history (this unit’s sync had it); one handed off after, as news', async () => {
    const replica: Record<string, UserEvent> = {}
    const inbox = inboxOfUnit1(replica)
    replica.cat = { userId: 'cat', geo: 'eu', at: now, unit: '0' }
    const forwarded = async (timestamp: number) => {
      const d = unit1()
      await groupAndMessage(d, ['bob', 'cat'])
      const before = inbox.read(A.inbound).length
      for (const r of d.read('fanout'))
        await inbox.pipe('fanout', { ...r, partition: 0, timestamp })
      const all = await batches(inbox, A.inbound)
      return all.slice(before).map((b) => [b.event.payload.kind, b.movedFrom ?? null])
    }
    // Handed off before the move: the message is history there (never sequenced again); the
    // join is news (a second copy of a state change is harmless, a missing one is not).
    expect(await forwarded(now - 1)).toEqual([
      ['MembershipChanged', null],
      ['NewMessage', 'unit:1'],
    ])
    // Handed off after it (a receiver whose replica lagged sent it here): news there.
    expect(await forwarded(now + 1)).toEqual([
      ['MembershipChanged', null],
      ['NewMessage', null],
    ])
  })
})

describe('geos and units: a share from another geo for a user homed in another unit of this one', () => {
  it('goes on to her unit once; the inbound marks what came from another geo', async () => {
    // Another geo's receiver knows this geo's listed deployment (unit 1), not its units: cat is
    // homed in unit 0 of this geo.
    const replica: Record<string, UserEvent> = {
      cat: { userId: 'cat', geo: 'eu', at: now, unit: '0' },
    }
    const inbox = inboxOfUnit1(replica)
    const inbound = new TopologyTestDriver(
      inboundTopology({
        inbound: 'inbound',
        fanout: 'fanout',
        userPartitions: 1,
        codec: codecs.fanoutBatch as EventCodec<FanoutBatch>,
      }),
    )
    const d = unit1()
    await groupAndMessage(d, ['bob', 'cat'])
    const shares = d.read('fanout')
    for (const share of shares)
      await inbound.pipe('inbound', {
        key: share.key,
        value: share.value,
        timestamp: now,
        headers: { [FROM_GEO_HEADER]: '1' },
      })
    const split = inbound.read('fanout')
    expect(new Set(split.map((r) => r.headers?.[VIA_INBOUND_HEADER]))).toEqual(new Set(['geo']))
    for (const r of split) await inbox.pipe('fanout', { ...r, partition: 0, timestamp: now })
    expect(await inbox.store(INBOX_STORES.lists).get(listKey('bob', 'g'))).toBeDefined()
    expect(await inbox.store(INBOX_STORES.lists).get(listKey('cat', 'g'))).toBeUndefined()
    const sent = await batches(inbox, A.inbound)
    expect(new Set(sent.flatMap((b) => b.recipients))).toEqual(new Set(['cat']))
    expect(sent.map((b) => b.event.payload.kind)).toContain('NewMessage')

    // From another unit (marked 1), as before: applied here whatever this replica says.
    for (const share of shares)
      await inbox.pipe('fanout', {
        ...share,
        partition: 0,
        timestamp: now,
        headers: { [VIA_INBOUND_HEADER]: '1' },
      })
    expect(await inbox.store(INBOX_STORES.lists).get(listKey('cat', 'g'))).toBeDefined()
    expect(inbox.read(A.inbound)).toEqual([])
  })
})
