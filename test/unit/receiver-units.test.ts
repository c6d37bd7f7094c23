// Units through the topology test driver: a conversation homed in another unit is processed
// there — its messages and changes are forwarded once, nothing of them is kept here — and the
// home unit sends a forwarded message's receipt back to the unit it came from.

import { beforeEach, describe, expect, it } from 'vitest'
import type { EventCodec } from '../../schemas/codec.js'
import { parseMsgId } from '../../schemas/msg-id.js'
import type { Action, ConversationEvent, SendMessage } from '../../schemas/types.generated.js'
import { RECEIVER_STORES as STORES } from '../../topologies/model/index.js'
import {
  MAX_UNIT_RELAYS,
  ORIGIN_UNIT_HEADER,
  UNIT_RELAY_HEADER,
  type UnitTopics,
} from '../../topologies/receiver/index.js'
import { MOVE_REQUEST_HEADER } from '../../topologies/receiver/move-headers.js'
import { MAX_MOVE_RELAYS } from '../../topologies/receiver/move-relay.js'
import type { TopologyTestDriver } from '../../topologies/runtime/index.js'
import { type ReceiverCodecs, receiverCodecs, receiverTopics } from './receiver-codecs.js'
import {
  DEAD_LETTERS,
  unitDriver as driverOf,
  pipeWritten,
  UNIT_TOPICS,
} from './receiver-units-support.js'

const topics = receiverTopics
const [A, B, C] = UNIT_TOPICS as [UnitTopics, UnitTopics, UnitTopics]

let codecs: ReceiverCodecs
const now = Date.UTC(2026, 10, 23, 12)

beforeEach(async () => {
  codecs = await receiverCodecs()
})

/** Unit `unit` of a two-unit setup: the other one (0 or 1) is known under its prefix. */
const unitDriver = (unit: 0 | 1) => driverOf(codecs, unit, 2, { clock: () => now })

function created(unit: string, members = ['alice', 'bob'], admins: string[] = []) {
  return {
    kind: 'ConversationCreated' as const,
    conversationType: 'GROUP' as const,
    members,
    admins,
    unit,
  }
}

async function change(
  driver: TopologyTestDriver,
  conversationId: string,
  c: ConversationEvent['change'],
  headers: Record<string, string> = {},
) {
  const event: ConversationEvent = { conversationId, actorId: 'root', at: now, change: c }
  await driver.pipe(topics.conversations, {
    key: conversationId,
    value: codecs.conversationEvent.encode(event),
    timestamp: now,
    headers,
  })
}

function message(conversationId: string, clientMsgId = 'c-1'): SendMessage {
  return {
    conversationId,
    clientMsgId,
    senderId: 'bob',
    type: 'TEXT',
    body: 'hello',
    priority: 'HIGH',
    visibility: 'NORMAL',
    targets: [],
    sentAt: now - 5,
  }
}

async function send(
  driver: TopologyTestDriver,
  m: SendMessage,
  headers: Record<string, string> = {},
): Promise<void> {
  await driver.pipe(topics.ingest, {
    key: m.conversationId,
    value: codecs.sendMessage.encode(m),
    timestamp: now,
    headers,
  })
}

const decodeAll = <T>(driver: TopologyTestDriver, topic: string, codec: EventCodec<T>) =>
  Promise.all(driver.read(topic).map((r) => codec.decode(r.value as Buffer)))

async function entries(driver: TopologyTestDriver, store: string): Promise<number> {
  let n = 0
  for await (const _ of driver.store(store).range()) n++
  return n
}

const reply = { 'imflow-reply-to': 'api-a', 'imflow-request-id': 'r-1' }

describe('receiver: units', () => {
  it('forwards a message homed in a known unit once, with its headers, keeping nothing', async () => {
    const a = unitDriver(0)
    await change(a, 'far', created('1'))
    // The home unit learns the conversation; its members are told there, not here.
    const handedOver = a.read(B.conversations)
    expect(handedOver).toHaveLength(1)
    expect(handedOver[0]?.headers).toEqual({ [ORIGIN_UNIT_HEADER]: '0' })
    expect(
      (await codecs.conversationEvent.decode(handedOver[0]?.value as Buffer)).change,
    ).toMatchObject({ kind: 'ConversationCreated', members: ['alice', 'bob'], unit: '1' })
    expect(a.read(topics.fanout)).toEqual([])

    await send(a, message('far'), { ...reply, 'x-trace': 't-9' })
    const forwarded = a.read(B.ingest)
    expect(forwarded).toHaveLength(1)
    expect(forwarded[0]?.key?.toString()).toBe('far')
    expect(forwarded[0]?.headers).toEqual({ ...reply, 'x-trace': 't-9', [ORIGIN_UNIT_HEADER]: '0' })
    expect(await codecs.sendMessage.decode(forwarded[0]?.value as Buffer)).toEqual(message('far'))
    // No receipt here (the home unit answers), no hand-off, no id, log or dedupe entry.
    expect(a.read(topics.receipts)).toEqual([])
    expect(a.read(topics.fanout)).toEqual([])
    expect(a.read(B.receipts)).toEqual([])
    for (const store of [STORES.messages, STORES.dedupe, STORES.ids])
      expect(await entries(a, store)).toBe(0)
  })

  it('rejects a message homed in a unit it does not know, with UNKNOWN_UNIT', async () => {
    const a = unitDriver(0)
    await change(a, 'lost', created('7'))
    expect(a.read(B.conversations)).toEqual([]) // nowhere to tell
    await send(a, message('lost'), reply)
    const [receipt] = await decodeAll(a, topics.receipts, codecs.receipt)
    expect(receipt?.outcome).toMatchObject({ kind: 'Rejected', reason: 'UNKNOWN_UNIT' })
    expect(receipt?.outcome.kind === 'Rejected' && receipt.outcome.detail).toContain(
      'homed in unit 7, which is not in IMFLOW_REMOTE_UNITS',
    )
    expect(a.read(B.ingest)).toEqual([])
    expect(await entries(a, STORES.messages)).toBe(0)
  })

  it('processes a forwarded message at home and sends the receipt back to its origin', async () => {
    const b = unitDriver(1)
    await change(b, 'far', created('1'), { [ORIGIN_UNIT_HEADER]: '0' })
    // Forwarded changes are applied and handed on here, never forwarded again.
    expect((await decodeAll(b, topics.fanout, codecs.fanoutBatch)).length).toBeGreaterThan(0)
    expect(b.read(A.conversations)).toEqual([])

    await send(b, message('far'), { ...reply, [ORIGIN_UNIT_HEADER]: '0' })
    // A copy stays here for the merge stage (it learns the sender from it), without the reply
    // headers: no API here waits for it.
    expect(b.read(topics.receipts).map((r) => r.headers ?? {})).toEqual([{}])
    const back = b.read(A.receipts)
    expect(back).toHaveLength(1)
    expect(back[0]?.headers).toEqual(reply)
    const receipt = await codecs.receipt.decode(back[0]?.value as Buffer)
    if (receipt.outcome.kind !== 'Accepted') throw new Error('expected the message accepted')
    expect(parseMsgId(receipt.outcome.msgId).unit).toBe(1)
    expect(await entries(b, STORES.messages)).toBe(1)
    expect(
      (await decodeAll(b, topics.fanout, codecs.fanoutBatch)).flatMap((f) => f.recipients).sort(),
    ).toEqual(['alice', 'bob'])

    // A retry forwarded again gets the same msgId, and is delivered once.
    await send(b, message('far'), { ...reply, [ORIGIN_UNIT_HEADER]: '0' })
    const [again] = await decodeAll(b, A.receipts, codecs.receipt)
    expect(again?.outcome).toEqual(receipt.outcome)
    expect(b.read(topics.fanout)).toEqual([])
  })

  it('forwards a user’s action to the home unit, which applies it', async () => {
    const a = unitDriver(0)
    const b = unitDriver(1)
    await change(a, 'far', created('1'))
    await change(b, 'far', created('1'), { [ORIGIN_UNIT_HEADER]: '0' })
    b.read(topics.fanout)
    const read: Action = {
      conversationId: 'far',
      userId: 'bob',
      at: now,
      action: { kind: 'ReadReceipt', upToMsgId: '42' },
    }
    await a.pipe(topics.actions, { key: 'far', value: codecs.action.encode(read), timestamp: now })
    const [forwarded] = a.read(B.actions)
    expect(forwarded?.headers).toEqual({ [ORIGIN_UNIT_HEADER]: '0' })
    expect(a.read(topics.fanout)).toEqual([]) // nothing applied here
    expect(await entries(a, STORES.readCursors)).toBe(0)
    // At home: the read cursor moves and bob's inbox is told; never forwarded back.
    await b.pipe(topics.actions, {
      key: 'far',
      value: forwarded?.value as Buffer,
      timestamp: now,
      headers: { [ORIGIN_UNIT_HEADER]: '0' },
    })
    expect(await entries(b, STORES.readCursors)).toBe(1)
    const told = await decodeAll(b, topics.fanout, codecs.fanoutBatch)
    expect(told.map((f) => [f.recipients, f.event.payload.kind])).toEqual([
      [['bob'], 'ConversationRead'],
    ])
    expect(b.read(A.actions)).toEqual([])
  })

  it('bounces once: what came from the unit it takes for the home goes back there, and stays there', async () => {
    const b = unitDriver(1)
    await change(b, 'g', created('0'))
    expect(b.read(A.conversations)).toHaveLength(1)
    // Unit 0 sent it here before it had the hand-over of a move to itself: back it goes.
    const from0 = { ...reply, [ORIGIN_UNIT_HEADER]: '0' }
    await change(b, 'g', { kind: 'MembersAdded', userIds: ['dave'] }, from0)
    expect(b.read(A.conversations).map((r) => r.headers)).toEqual([
      { ...from0, [UNIT_RELAY_HEADER]: '1' },
    ])
    await send(b, message('g'), from0)
    const [back] = b.read(A.ingest)
    expect(back?.headers).toEqual({ ...from0, [UNIT_RELAY_HEADER]: '1' })
    expect(b.read(A.receipts)).toEqual([]) // answered by unit 0
    // Back at its origin, which takes unit 1 for the home (the units disagree): not sent out
    // again, rejected there.
    const a = unitDriver(0)
    await change(a, 'g', created('1'))
    a.read(B.conversations)
    await send(a, message('g'), back?.headers as Record<string, string>)
    expect(a.read(B.ingest)).toEqual([])
    const [receipt] = await decodeAll(a, topics.receipts, codecs.receipt)
    expect(receipt?.outcome).toMatchObject({ kind: 'Rejected', reason: 'UNKNOWN_UNIT' })
    expect(receipt?.outcome.kind === 'Rejected' && receipt.outcome.detail).toContain('disagree')
  })

  it('passes on what came forwarded for a conversation it moved on, keeping the origin, a bounded number of times', async () => {
    // Unit 1 of three: it knows the conversation homed in unit 2 (it moved it there), and
    // unit 0, which has not heard of that, forwards to it as to the home.
    const b = driverOf(codecs, 1, 3, { clock: () => now })
    await change(b, 'far', created('2'))
    b.read(C.conversations)
    const from0 = { ...reply, [ORIGIN_UNIT_HEADER]: '0' }
    await send(b, message('far'), from0)
    const [relayed] = b.read(C.ingest)
    expect(relayed?.headers).toMatchObject({ ...from0, [UNIT_RELAY_HEADER]: '1' })
    expect(b.read(A.receipts)).toEqual([]) // answered by unit 2, to unit 0
    await b.pipe(topics.actions, {
      key: 'far',
      value: codecs.action.encode({
        conversationId: 'far',
        userId: 'bob',
        at: now,
        action: { kind: 'ReadReceipt', upToMsgId: '1' },
      }),
      timestamp: now,
      headers: { [ORIGIN_UNIT_HEADER]: '0' },
    })
    expect(b.read(C.actions)[0]?.headers).toMatchObject({ [UNIT_RELAY_HEADER]: '1' })
    await change(
      b,
      'far',
      { kind: 'MembersAdded', userIds: ['dave'] },
      { [ORIGIN_UNIT_HEADER]: '0' },
    )
    expect(b.read(C.conversations)[0]?.headers).toMatchObject({
      [ORIGIN_UNIT_HEADER]: '0',
      [UNIT_RELAY_HEADER]: '1',
    })
    // Passed on as often as the bound allows (a loop between misconfigured units): refused.
    await send(b, message('far', 'c-2'), {
      ...from0,
      [UNIT_RELAY_HEADER]: String(MAX_UNIT_RELAYS),
    })
    expect(b.read(C.ingest)).toEqual([])
    const [receipt] = await decodeAll(b, A.receipts, codecs.receipt)
    expect(receipt?.outcome).toMatchObject({ kind: 'Rejected', reason: 'UNKNOWN_UNIT' })
  })

  it('refuses a move to a unit it does not list, saying so in a dead letter: the conversation stays homed here', async () => {
    const a = unitDriver(0)
    await change(a, 'g', created('', ['alice', 'bob']))
    await change(a, 'g', { kind: 'UnitChanged', unit: '7' })
    expect(a.read(B.conversations)).toEqual([])
    expect(a.read(DEAD_LETTERS).map((r) => String(r.value))).toEqual([
      'IMF_ERR_UNIT_UNREACHABLE: a move of g to unit 7, which is neither this unit nor listed: not applied here; the units must list each other (IMFLOW_REMOTE_UNITS)',
    ])
    await send(a, message('g'), reply)
    const [receipt] = await decodeAll(a, topics.receipts, codecs.receipt)
    const outcome = receipt?.outcome
    expect(outcome?.kind).toBe('Accepted')
    expect(outcome?.kind === 'Accepted' && parseMsgId(outcome.msgId).unit).toBe(0)
  })

  it('dead-letters a move passed on as often as the bound allows, and keeps routing as before', async () => {
    const b = unitDriver(1)
    await change(b, 'g', created('0', ['alice', 'bob'])) // homed in unit 0: routed from here
    b.read(A.conversations)
    await change(
      b,
      'g',
      { kind: 'UnitChanged', unit: '1' },
      {
        [MOVE_REQUEST_HEADER]: String(MAX_MOVE_RELAYS),
      },
    )
    expect(b.read(DEAD_LETTERS).map((r) => String(r.value))).toEqual([
      'IMF_ERR_UNIT_UNREACHABLE: a move of g passed on 8 times without reaching its home: not applied here; the units must list each other (IMFLOW_REMOTE_UNITS)',
    ])
    expect(b.read(A.conversations)).toEqual([])
    await send(b, message('g'))
    expect(b.read(A.ingest)).toHaveLength(1) // still routed to unit 0
  })

  it('hands a conversation moved to another unit over, and tells it when it moves back', async () => {
    const a = unitDriver(0)
    await change(a, 'g', created('', ['alice', 'bob', 'carol'], ['alice']))
    await change(a, 'g', { kind: 'MuteChanged', muted: true })
    expect(a.read(B.conversations)).toEqual([]) // homed here: nothing to tell
    a.read(topics.fanout)

    await change(a, 'g', { kind: 'UnitChanged', unit: '01' })
    const handOver = (await decodeAll(a, B.conversations, codecs.conversationEvent)).map(
      (e) => e.change,
    )
    expect(handOver).toEqual([
      { kind: 'UnitChanged', unit: '01' },
      {
        kind: 'ConversationCreated',
        conversationType: 'GROUP',
        members: ['alice', 'bob', 'carol'],
        admins: ['alice'],
        unit: '01',
      },
      { kind: 'MembersAdded', userIds: ['alice', 'bob', 'carol'] },
      { kind: 'MuteChanged', muted: true },
    ])
    // Its (empty) history went ahead of anything else for it: the import's end.
    expect(a.read(B.ingest).map((r) => r.headers?.['imflow-import'])).toEqual(['end'])
    // Later changes and messages follow it.
    await change(a, 'g', { kind: 'MembersAdded', userIds: ['dave'] })
    expect((await decodeAll(a, B.conversations, codecs.conversationEvent))[0]?.change).toEqual({
      kind: 'MembersAdded',
      userIds: ['dave'],
    })
    expect(a.read(topics.fanout)).toEqual([])
    await send(a, message('g'))
    expect(a.read(B.ingest)).toHaveLength(1)

    // Back home: the old home hears of it, and messages are processed here again.
    await change(a, 'g', { kind: 'UnitChanged', unit: '' })
    expect((await decodeAll(a, B.conversations, codecs.conversationEvent))[0]?.change).toEqual({
      kind: 'UnitChanged',
      unit: '',
    })
    await send(a, message('g', 'c-2'))
    expect(a.read(B.ingest)).toEqual([])
    // It waits for unit 1, the home, to hand it over and send its history (here: none), then
    // is decided here.
    expect(a.read(topics.receipts)).toEqual([])
    await send(a, message('g', ''), { [ORIGIN_UNIT_HEADER]: '1', 'imflow-import': 'end' })
    expect(a.read(topics.receipts)).toEqual([])
    await change(
      a,
      'g',
      { kind: 'MuteChanged', muted: true },
      { [ORIGIN_UNIT_HEADER]: '1', 'imflow-handover-part': '1', 'imflow-handover': '1' },
    )
    expect(a.read(topics.receipts)).toEqual([])
    // The move's barrier, sent through unit 1, which sends it back: the move is complete.
    const barrier = a.read(B.conversations)
    expect(barrier.map((r) => r.headers?.['imflow-move-barrier'])).toEqual(['1'])
    await pipeWritten(barrier, a, topics.conversations, now)
    const [receipt] = await decodeAll(a, topics.receipts, codecs.receipt)
    // Muted, and bob is no admin: the local checks apply again.
    expect(receipt?.outcome).toMatchObject({ kind: 'Rejected', reason: 'MUTED' })
  })
})
