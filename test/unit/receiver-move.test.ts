// Moving a conversation between units through the topology test driver (two receivers, what
// one writes for the other piped across by hand, in the worst order a task may read it): the
// history arrives with its msgIds and seq (a long one in chunks), the old home keeps none of it,
// and a message sent after the move waits at the new home until the history and the hand-over
// are both there.

import { beforeEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../ops/log.js'
import { createMetrics } from '../../ops/metrics.js'
import type { EventCodec } from '../../schemas/codec.js'
import { parseMsgId } from '../../schemas/msg-id.js'
import type { ConversationEvent, SendMessage } from '../../schemas/types.generated.js'
import {
  conversationPrefix,
  memberKey,
  RECEIVER_STORES as STORES,
} from '../../topologies/model/index.js'
import {
  HOME_UNIT_HEADER,
  ORIGIN_UNIT_HEADER,
  type UnitTopics,
} from '../../topologies/receiver/index.js'
import { BARRIER_WAIT_MS } from '../../topologies/receiver/move-in.js'
import { EXPORT_EVERY_MS, PACK_MAX_CHARS, packs } from '../../topologies/receiver/move-out.js'
import type { TopologyTestDriver } from '../../topologies/runtime/index.js'
import { type ReceiverCodecs, receiverCodecs, receiverTopics } from './receiver-codecs.js'
import {
  pipeWritten,
  storedLog,
  unitDriver as twoUnits,
  UNIT_TOPICS,
} from './receiver-units-support.js'

const topics = receiverTopics
const [A, B] = UNIT_TOPICS as [UnitTopics, UnitTopics]
const now = Date.UTC(2026, 10, 26, 12)
let codecs: ReceiverCodecs

beforeEach(async () => {
  codecs = await receiverCodecs()
})

/** Unit 0 or 1; three members make a large group here, so its messages carry a seq. */
const unitDriver = (unit: 0 | 1, moveChunk?: number) =>
  twoUnits(codecs, unit, 2, {
    largeGroupThreshold: 2,
    clock: () => now,
    ...(moveChunk ? { moveChunk } : {}),
  })

async function change(d: TopologyTestDriver, c: ConversationEvent['change']) {
  const event: ConversationEvent = { conversationId: 'g', actorId: 'root', at: now, change: c }
  await d.pipe(topics.conversations, {
    key: 'g',
    value: codecs.conversationEvent.encode(event),
    timestamp: now,
  })
}

/** g's creation: three members (a large group here), homed in `unit` ('' for the deployment's own). */
const createdIn = (unit: string): ConversationEvent['change'] => ({
  kind: 'ConversationCreated',
  conversationType: 'GROUP',
  members: ['alice', 'bob', 'carol'],
  admins: [],
  unit,
})

const message = (clientMsgId: string): SendMessage => ({
  conversationId: 'g',
  clientMsgId,
  senderId: 'bob',
  type: 'TEXT',
  body: `body of ${clientMsgId}`,
  priority: 'HIGH',
  visibility: 'NORMAL',
  targets: [],
  sentAt: now,
})

let tick = 0
const send = (d: TopologyTestDriver, m: SendMessage) =>
  d.pipe(topics.ingest, { key: 'g', value: codecs.sendMessage.encode(m), timestamp: now + ++tick })

type Written = ReturnType<TopologyTestDriver['read']>

/** What one unit wrote to the other's topic, piped into the other as it was written. */
const across = (
  from: TopologyTestDriver,
  to: TopologyTestDriver,
  out: string,
  into: string,
  earlier: Written = [],
) => pipeWritten([...earlier, ...from.read(out)], to, into, now)

/**
 * The move's barrier (move-in.ts): what the new home sent through the old one, which passes
 * it back (behind anything the new home forwarded there before).
 */
async function barrier(oldHome: TopologyTestDriver, newHome: TopologyTestDriver) {
  const sent = newHome.read(A.conversations)
  expect(sent.map((r) => r.headers?.['imflow-move-barrier'])).toContain('1')
  await across(newHome, oldHome, A.conversations, topics.conversations, sent)
  await across(oldHome, newHome, B.conversations, topics.conversations)
}

const accepted = async (d: TopologyTestDriver, topic: string, codec: EventCodec<unknown>) =>
  Promise.all(
    d.read(topic).map(async (r) => {
      const receipt = (await codec.decode(r.value as Buffer)) as {
        outcome: { kind: string; msgId?: string }
      }
      return receipt.outcome.kind === 'Accepted' ? receipt.outcome.msgId : receipt.outcome.kind
    }),
  )

const log = storedLog

/** The members a unit keeps of g, in key order. */
async function members(d: TopologyTestDriver): Promise<string[]> {
  const prefix = conversationPrefix('g')
  const out: string[] = []
  for await (const [key] of d.store(STORES.members).prefix(prefix))
    out.push(key.subarray(prefix.length).toString())
  return out
}

describe('receiver: moving a conversation to another unit', () => {
  it('takes its history, seq, dedupe and read cursors along, and holds traffic until then', async () => {
    const a = unitDriver(0)
    const b = unitDriver(1)
    await change(a, createdIn(''))
    for (const id of ['m1', 'm2', 'm3']) await send(a, message(id))
    const before = await accepted(a, topics.receipts, codecs.receipt)
    expect(before).toHaveLength(3)
    await a.pipe(topics.actions, {
      key: 'g',
      value: codecs.action.encode({
        conversationId: 'g',
        userId: 'alice',
        at: now,
        action: { kind: 'ReadReceipt', upToMsgId: before[1] as string },
      }),
      timestamp: now,
    })
    const history = await log(a)
    expect(history.map((m) => m.seq)).toEqual([1, 2, 3])

    await change(a, { kind: 'UnitChanged', unit: '1' })
    await send(a, message('m4')) // after the move: forwarded, behind the history
    expect(await log(a)).toEqual([]) // the old home keeps none of it
    expect(await a.store(STORES.readCursors).get(memberKey('g', 'alice'))).toBeUndefined()

    // The new home reads its ingest first: the history is stored, m4 waits for the hand-over.
    await across(a, b, B.ingest, topics.ingest)
    expect(b.read(A.receipts)).toEqual([])
    await across(a, b, B.actions, topics.actions)
    await across(a, b, B.conversations, topics.conversations)
    expect(b.read(A.receipts)).toEqual([]) // m4 waits for the move's barrier
    await barrier(a, b)
    const m4 = await accepted(b, A.receipts, codecs.receipt)
    expect(m4).toHaveLength(1)
    expect(parseMsgId(m4[0] as string).unit).toBe(1)
    expect(await log(b)).toEqual([...history, { msgId: m4[0], seq: 4, body: 'body of m4' }])
    const cursor = await b.store(STORES.readCursors).get(memberKey('g', 'alice'))
    expect(cursor?.toString()).toBe(before[1])

    // A retry of a message the old home accepted gets its msgId from the new home's dedupe.
    await b.pipe(topics.ingest, {
      key: 'g',
      value: codecs.sendMessage.encode(message('m1')),
      timestamp: now,
      headers: { [ORIGIN_UNIT_HEADER]: '0' },
    })
    expect(await accepted(b, A.receipts, codecs.receipt)).toEqual([before[0]])
    expect(await log(b)).toHaveLength(4)
  })

  it('takes back what the new home forwarded before it had the hand-over: its message and its read, held there', async () => {
    // Moving into the sender's unit: unit 1 has not heard of g, its API names unit 0 (where
    // alice is a member), and unit 0 has just moved g to unit 1.
    const a = unitDriver(0)
    const b = unitDriver(1)
    await change(a, createdIn(''))
    await send(a, message('m1'))
    const [m1] = await accepted(a, topics.receipts, codecs.receipt)
    await change(a, { kind: 'UnitChanged', unit: '1' })
    const named = { [HOME_UNIT_HEADER]: '0', 'imflow-reply-to': 'api-b', 'imflow-request-id': 'r' }
    await b.pipe(topics.ingest, {
      key: 'g',
      value: codecs.sendMessage.encode(message('w1')),
      timestamp: now,
      headers: named,
    })
    await b.pipe(topics.actions, {
      key: 'g',
      value: codecs.action.encode({
        conversationId: 'g',
        userId: 'alice',
        at: now,
        action: { kind: 'ReadReceipt', upToMsgId: m1 as string },
      }),
      timestamp: now,
      headers: named,
    })
    // Unit 0 sends both back, behind the move's first records on the same topics.
    await across(b, a, A.ingest, topics.ingest)
    await across(b, a, A.actions, topics.actions)
    expect(a.read(B.receipts)).toEqual([])
    // The worst order at unit 1: its actions first (the read came back before anything of
    // the move was read on its other topics), then the history, then the hand-over.
    await across(a, b, B.actions, topics.actions)
    await across(a, b, B.ingest, topics.ingest)
    expect(b.read(topics.receipts)).toEqual([]) // w1 waits for the hand-over
    await across(a, b, B.conversations, topics.conversations)
    await barrier(a, b)
    const [w1] = await accepted(b, topics.receipts, codecs.receipt)
    expect(parseMsgId(w1 as string).unit).toBe(1) // decided at unit 1, answered to its API
    expect((await log(b)).map((m) => m.body)).toEqual(['body of m1', 'body of w1'])
    const cursor = await b.store(STORES.readCursors).get(memberKey('g', 'alice'))
    expect(cursor?.toString()).toBe(m1)
  })

  it('sends a long history a chunk per transaction, messages forwarded meanwhile waiting for its end', async () => {
    const a = unitDriver(0, 2)
    const b = unitDriver(1)
    await change(a, createdIn(''))
    for (const id of ['m1', 'm2', 'm3', 'm4', 'm5']) await send(a, message(id))
    const history = await log(a)
    a.read(topics.receipts)
    await change(a, { kind: 'UnitChanged', unit: '1' })
    const first = a.read(B.ingest)
    // The first chunk, with the move: its two messages packed in one record.
    expect(first.map((r) => r.headers?.['imflow-import'])).toEqual(['messages'])
    await send(a, message('m6')) // forwarded between chunks
    await across(a, b, B.ingest, topics.ingest, first)
    await across(a, b, B.conversations, topics.conversations)
    expect(b.read(A.receipts)).toEqual([]) // m6 waits for the history's end
    expect(await log(a)).toHaveLength(3)
    for (let i = 0; i < 2; i++) {
      await a.advanceWallClock(EXPORT_EVERY_MS)
      await across(a, b, B.ingest, topics.ingest)
    }
    expect(await log(a)).toEqual([])
    await barrier(a, b)
    const m6 = await accepted(b, A.receipts, codecs.receipt)
    expect(m6).toHaveLength(1)
    expect(await log(b)).toEqual([...history, { msgId: m6[0], seq: 6, body: 'body of m6' }])
    // Nothing more to send: later ticks write nothing.
    await a.advanceWallClock(EXPORT_EVERY_MS * 3)
    expect(a.read(B.ingest)).toEqual([])
  })

  it('holds what comes for a conversation moved here, a move on included, until its history does', async () => {
    const b = unitDriver(1)
    await change(b, createdIn('0'))
    await change(b, { kind: 'UnitChanged', unit: '1' }) // through unit 1's own API
    await send(b, message('w1'))
    expect(b.read(topics.receipts)).toEqual([]) // waits for unit 0's history
    // Unit 0 told of the creation, then of the move: it hands the conversation over and sends
    // the history then.
    expect(b.read(A.conversations).map((r) => r.headers?.['imflow-move-request'])).toEqual([
      undefined,
      '0',
    ])
    // Moved back before any came: that waits too, behind w1 (sent on now, unit 0's history
    // would come here after the conversation left).
    await change(b, { kind: 'UnitChanged', unit: '0' })
    expect(b.read(A.ingest)).toEqual([])
    expect(b.read(A.conversations)).toEqual([])
    // Unit 0 hands it over (the home does, whoever made the move) and its (empty) history
    // ends: w1 is accepted here, then the move back takes it along.
    const handedOver: ConversationEvent = {
      conversationId: 'g',
      actorId: 'root',
      at: now,
      change: { kind: 'MuteChanged', muted: false },
    }
    await b.pipe(topics.conversations, {
      key: 'g',
      value: codecs.conversationEvent.encode(handedOver),
      timestamp: now,
      headers: { 'imflow-handover-part': '1', 'imflow-handover': '0', [ORIGIN_UNIT_HEADER]: '0' },
    })
    expect(b.read(topics.receipts)).toEqual([])
    await b.pipe(topics.ingest, {
      key: 'g',
      value: codecs.sendMessage.encode({ ...message(''), body: '' }),
      timestamp: now,
      headers: { 'imflow-import': 'end', 'imflow-import-seq': '0', [ORIGIN_UNIT_HEADER]: '0' },
    })
    expect(b.read(topics.receipts)).toEqual([])
    // Unit 0 passes the move's barrier back.
    await pipeWritten(b.read(A.conversations), b, topics.conversations, now)
    const w1 = await accepted(b, topics.receipts, codecs.receipt)
    expect(w1).toHaveLength(1)
    expect(parseMsgId(w1[0] as string).unit).toBe(1)
    const out = b.read(A.ingest)
    expect(out.map((r) => r.headers?.['imflow-import'])).toEqual(['message', 'end'])
    expect(out[0]?.headers?.['imflow-import-msg-id']).toBe(w1[0])
    expect(await log(b)).toEqual([])
  })

  it('takes the old home’s roster when moved through its own API, and applies a change made meanwhile after it', async () => {
    const a = unitDriver(0)
    const b = unitDriver(1)
    // Created through unit 1's API, homed in unit 0; carol removed through unit 0's, which
    // unit 1 never hears of.
    await change(b, createdIn('0'))
    await across(b, a, A.conversations, topics.conversations)
    await change(a, { kind: 'MembersRemoved', userIds: ['carol'] })
    // Moved to unit 1 through unit 1's API; erin added there before unit 0 has handed it over.
    await change(b, { kind: 'UnitChanged', unit: '1' })
    b.read(topics.fanout)
    await change(b, { kind: 'MembersAdded', userIds: ['erin'] })
    expect(b.read(topics.fanout)).toEqual([]) // waits for the hand-over
    await across(b, a, A.conversations, topics.conversations)
    await across(a, b, B.ingest, topics.ingest)
    await across(a, b, B.conversations, topics.conversations)
    await barrier(a, b)

    // The old home's roster, then erin's addition on it: carol is no member here either.
    expect(await members(b)).toEqual(['alice', 'bob', 'erin'])
    const told = await Promise.all(
      b.read(topics.fanout).map((r) => codecs.fanoutBatch.decode(r.value as Buffer)),
    )
    const joined = told.filter(
      (t) => t.event.payload.kind === 'MembershipChanged' && t.event.payload.member,
    )
    expect(joined.flatMap((t) => t.recipients)).toEqual(['erin']) // told once, nobody else
  })

  it('applies a change made at the new home after one it forwarded to the old home before the hand-over, in that order', async () => {
    const a = unitDriver(0)
    const b = unitDriver(1)
    // Created through unit 1's API, homed in unit 0; moved to unit 1 through unit 0's.
    await change(b, createdIn('0'))
    await across(b, a, A.conversations, topics.conversations)
    await change(a, { kind: 'UnitChanged', unit: '1' })
    // dave is added through unit 1, which only routes g yet: forwarded to unit 0.
    await change(b, { kind: 'MembersAdded', userIds: ['dave'] })
    const forwarded = b.read(A.conversations)
    expect(forwarded).toHaveLength(1)
    // Unit 1 gets the history and the hand-over before unit 0 has read that change.
    await across(a, b, B.ingest, topics.ingest)
    await across(a, b, B.conversations, topics.conversations)
    // The barrier goes to unit 0 behind the change; dave is removed through unit 1 meanwhile.
    const barrierOut = b.read(A.conversations)
    expect(barrierOut.map((r) => r.headers?.['imflow-move-barrier'])).toEqual(['1'])
    b.read(topics.fanout)
    await change(b, { kind: 'MembersRemoved', userIds: ['dave'] })
    expect(b.read(topics.fanout)).toEqual([]) // waits for the barrier
    // Unit 0 passes the change back to the home, then the barrier.
    await across(b, a, A.conversations, topics.conversations, [...forwarded, ...barrierOut])
    const back = a.read(B.conversations)
    expect(back.map((r) => r.headers?.['imflow-move-barrier'])).toEqual([undefined, '1'])
    await across(a, b, B.conversations, topics.conversations, back)

    // Added, then removed, as made: dave is no member, and was told both, in that order.
    expect(await members(b)).toEqual(['alice', 'bob', 'carol'])
    const told = await Promise.all(
      b.read(topics.fanout).map((r) => codecs.fanoutBatch.decode(r.value as Buffer)),
    )
    expect(
      told
        .filter((t) => t.recipients.includes('dave'))
        .map((t) => t.event.payload.kind === 'MembershipChanged' && t.event.payload.member),
    ).toEqual([true, false])
  })

  it('returns the barrier at once from an old home that holds the conversation, moving back in', async () => {
    const a = unitDriver(0)
    const b = unitDriver(1)
    await change(a, createdIn(''))
    await change(a, { kind: 'UnitChanged', unit: '1' })
    // Moved back through unit 0's API before unit 1 had it: unit 0 waits for unit 1's hand-over.
    await change(a, { kind: 'UnitChanged', unit: '0' })
    await send(a, message('m1'))
    expect(a.read(topics.receipts)).toEqual([]) // held at unit 0
    await across(a, b, B.ingest, topics.ingest)
    await across(a, b, B.conversations, topics.conversations)
    // Unit 1's barrier, at unit 0, which holds g: sent straight back, not held with g.
    await across(b, a, A.conversations, topics.conversations)
    const back = a.read(B.conversations)
    expect(back.map((r) => r.headers?.['imflow-move-barrier'])).toEqual(['1'])
  })

  it('completes a move without its barrier once BARRIER_WAIT_MS passed: an old home that is gone holds nothing for ever', async () => {
    const a = unitDriver(0)
    const metrics = createMetrics().receiver
    const lines: string[] = []
    const b = twoUnits(
      codecs,
      1,
      2,
      { largeGroupThreshold: 2, clock: () => now, metrics },
      createLogger('warn', (line) => lines.push(line)),
    )
    await change(a, createdIn(''))
    await send(a, message('m1'))
    await change(a, { kind: 'UnitChanged', unit: '1' })
    await send(a, message('m2')) // forwarded behind the history
    await across(a, b, B.ingest, topics.ingest)
    await across(a, b, B.conversations, topics.conversations)
    expect(b.read(A.conversations)).toHaveLength(1) // the barrier, which unit 0 never returns
    await b.advanceWallClock(BARRIER_WAIT_MS - EXPORT_EVERY_MS)
    expect(b.read(A.receipts)).toEqual([])
    expect((await metrics.moveBarrierTimeouts.get()).values[0]?.value ?? 0).toBe(0)
    await b.advanceWallClock(2 * EXPORT_EVERY_MS)
    expect(await accepted(b, A.receipts, codecs.receipt)).toHaveLength(1)
    expect((await metrics.moveBarrierTimeouts.get()).values[0]?.value).toBe(1)
    expect(lines).toEqual([
      expect.stringMatching(
        /WARN .*\[imflow:receiver-\d+\] a move completes without its barrier .*conversationId=g waitedMs=\d+/,
      ),
    ])
    expect((await log(b)).map((m) => m.body)).toEqual(['body of m1', 'body of m2'])
  })

  it('stores nothing a producer marks as imported: imports come only from a known unit', async () => {
    const b = unitDriver(1)
    await b.pipe(topics.ingest, {
      key: 'g',
      value: codecs.sendMessage.encode(message('x')),
      timestamp: now,
      headers: { 'imflow-import': 'message', 'imflow-import-msg-id': '1' },
    })
    expect(await log(b)).toEqual([])
    expect(await accepted(b, topics.receipts, codecs.receipt)).toEqual(['Rejected'])
  })

  it('packs a history in records of bounded size, in order, a message larger than that alone', () => {
    const stored = (id: string, body: string) => ({
      ...message(id),
      body,
      msgId: id,
      createdAt: now,
      seq: 0,
    })
    const small = Array.from({ length: 1_000 }, (_, i) => stored(`s${i}`, 'x'.repeat(500)))
    const big = stored('big', 'y'.repeat(PACK_MAX_CHARS))
    const out = packs([...small.slice(0, 600), big, ...small.slice(600)])
    expect(out.flat().map((m) => m.msgId)).toEqual([
      ...small.slice(0, 600).map((m) => m.msgId),
      'big',
      ...small.slice(600).map((m) => m.msgId),
    ])
    expect(out.find((p) => p.some((m) => m.msgId === 'big'))).toHaveLength(1)
    for (const p of out.filter((p) => p.length > 1))
      expect(JSON.stringify(p).length).toBeLessThanOrEqual(PACK_MAX_CHARS)
    expect(out.length).toBeLessThan(10)
  })
})
