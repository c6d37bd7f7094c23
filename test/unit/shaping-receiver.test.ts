// Peak shaving inside the receiver, through the topology test driver: LOW waits in its lane
// and is drained with spare capacity or at its deadline, in order; each rate-limit dimension
// throttles and recovers; under overload the large group's flood gives way, 1:1 chats do not.

import { beforeEach, describe, expect, it } from 'vitest'
import type { ConversationEvent, Receipt, SendMessage } from '../../schemas/types.generated.js'
import { receiverTopology } from '../../topologies/receiver/index.js'
import { TopologyTestDriver } from '../../topologies/runtime/index.js'
import { type Limits, shaping } from '../../topologies/shaping/index.js'
import { type ReceiverCodecs, receiverCodecs, receiverTopics } from './receiver-codecs.js'

const topics = receiverTopics
const off = { default: null, overrides: {} }

let codecs: ReceiverCodecs
let driver: TopologyTestDriver
let now: number
let limits: Limits
let seq = 0

beforeEach(async () => {
  codecs = await receiverCodecs()
  now = Date.UTC(2026, 10, 26, 12)
  limits = {
    capacity: 10,
    lowDeadlineMs: 3_000,
    conversation: off,
    user: off,
    clientType: off,
    application: off,
  }
  const clock = () => now
  driver = new TopologyTestDriver(
    receiverTopology({
      topics,
      codecs,
      unit: 0,
      userPartitions: 2,
      largeGroupThreshold: 100,
      clock,
      admission: shaping({
        limits: () => limits,
        targetLatencyMs: 0,
        largeGroupMembers: 100,
        lowQueueMax: 40,
        clock,
      }),
    }),
  )
  await group('big', 1_000)
  await group('dm', 2)
})

async function group(conversationId: string, size: number) {
  const members = Array.from({ length: size }, (_, i) => `${conversationId}-u${i}`)
  const event: ConversationEvent = {
    conversationId,
    actorId: null,
    at: now,
    change: {
      kind: 'ConversationCreated',
      conversationType: 'GROUP',
      members,
      admins: [],
      unit: '',
    },
  }
  await driver.pipe(topics.conversations, {
    key: conversationId,
    value: codecs.conversationEvent.encode(event),
    timestamp: now,
  })
  driver.read(topics.fanout)
}

async function send(
  conversationId: string,
  over: Partial<SendMessage> = {},
  headers: Record<string, string> = {},
  /** When it was written to im.ingest: earlier than now for one that waited there. */
  writtenAt = now,
): Promise<Receipt['outcome']> {
  const m: SendMessage = {
    conversationId,
    clientMsgId: `c${++seq}`,
    senderId: `${conversationId}-u0`,
    type: 'TEXT',
    body: `m${seq}`,
    priority: 'HIGH',
    visibility: 'NORMAL',
    targets: [],
    sentAt: now,
    ...over,
  }
  await driver.pipe(topics.ingest, {
    key: conversationId,
    value: codecs.sendMessage.encode(m),
    timestamp: writtenAt,
    headers,
  })
  const [out] = driver.read(topics.receipts)
  return (await codecs.receipt.decode(out?.value as Buffer)).outcome
}

/** msgIds of the new messages handed off since the last read (one per message). */
/** Messages handed on since the last call: per-user hand-offs, and large groups' room events. */
async function deliveredMessages(): Promise<{ conversationId: string; msgId: string }[]> {
  const found = new Map<string, string>()
  const events = [
    ...(await Promise.all(
      driver
        .read(topics.fanout)
        .map(async (r) => (await codecs.fanoutBatch.decode(r.value as Buffer)).event),
    )),
    ...(await Promise.all(
      driver
        .read(topics.rooms)
        .map(async (r) => (await codecs.roomEvent.decode(r.value as Buffer)).event),
    )),
  ]
  for (const { payload } of events) {
    if (payload.kind === 'NewMessage')
      found.set(payload.message.msgId, payload.message.conversationId)
  }
  return [...found].map(([msgId, conversationId]) => ({ conversationId, msgId }))
}

async function delivered(): Promise<string[]> {
  return (await deliveredMessages()).map((m) => m.msgId)
}

async function tick(ms: number) {
  now += ms
  await driver.advanceWallClock(ms)
}

const msgId = (o: Receipt['outcome']) =>
  o.kind === 'Accepted' ? o.msgId : `not accepted: ${o.kind}`

describe('priority lanes', () => {
  it('accepts LOW at once and delivers it when drained, in order', async () => {
    const ids = [await send('dm', { priority: 'LOW' }), await send('dm', { priority: 'LOW' })].map(
      msgId,
    )
    expect(await delivered()).toEqual([])
    await tick(100)
    expect(await delivered()).toEqual(ids)
  })

  it('drains LOW with the capacity HIGH leaves, yet before its deadline', async () => {
    // A large group's flood at 5x the capacity: HIGH wants it all, LOW gets none of it...
    const flood = async () => {
      for (let i = 0; i < 5; i++) await send('big')
      await tick(100)
      return delivered()
    }
    await flood()
    const low = msgId(await send('dm', { priority: 'LOW' }))
    for (let t = 0; t < 2_000; t += 100) expect(await flood()).not.toContain(low)
    // ...but by its deadline less the margin (3,000 - 600 ms) it is delivered anyway.
    let waited = 2_000
    while (!(await flood()).includes(low)) {
      waited += 100
      expect(waited).toBeLessThanOrEqual(3_000)
    }
    expect(waited).toBeGreaterThanOrEqual(2_300)
  })

  it('counts the deadline from acceptance: time waited on im.ingest is not granted again', async () => {
    // A backlog written 2 s ago (a lagging receiver), a large group's flood over capacity in
    // it, then a LOW message: accepted at the time it was written, what its receipt says.
    const backlog = now - 2_000
    for (let i = 0; i < 10; i++) await send('big', {}, {}, backlog)
    const low = await send('dm', { priority: 'LOW' }, {}, backlog)
    expect(low).toMatchObject({ kind: 'Accepted', createdAt: backlog })
    // The flood goes on (HIGH wants all of the capacity): due at 3,000 - 600 ms after
    // acceptance, 400 ms from now, not 2,400.
    let waited = 0
    for (;;) {
      for (let i = 0; i < 10; i++) await send('big')
      await tick(100)
      waited += 100
      if ((await delivered()).includes(msgId(low))) break
      expect(waited).toBeLessThanOrEqual(1_000)
    }
    expect(waited).toBeGreaterThanOrEqual(400)
  })

  it('keeps LOW in the order it came, per conversation, across drains', async () => {
    // 'big' is a large group: its messages go on as room events, the 1:1's as hand-offs.
    const sent: Record<string, string[]> = { big: [], dm: [] }
    for (let i = 0; i < 30; i++) {
      const conversationId = i % 2 ? 'dm' : 'big'
      sent[conversationId]?.push(msgId(await send(conversationId, { priority: 'LOW' })))
    }
    const seen: Record<string, string[]> = { big: [], dm: [] }
    for (let t = 0; t < 40 && (seen.big?.length ?? 0) + (seen.dm?.length ?? 0) < 30; t++) {
      await tick(100)
      for (const m of await deliveredMessages()) seen[m.conversationId]?.push(m.msgId)
    }
    expect(seen).toEqual(sent)
  })
})

describe('LOW lane bound', () => {
  it('throttles LOW for overload once the lane is full, and takes it again once drained', async () => {
    for (let i = 0; i < 40; i++)
      expect((await send('dm', { priority: 'LOW' })).kind).toBe('Accepted')
    expect(await send('dm', { priority: 'LOW' })).toEqual({
      kind: 'Throttled',
      reason: 'OVERLOAD',
      retryAfterMs: 1_000,
    })
    await tick(100)
    expect((await delivered()).length).toBeGreaterThan(0)
    expect((await send('dm', { priority: 'LOW' })).kind).toBe('Accepted')
  })
})

describe('rate limits', () => {
  const cases = [
    ['conversation', 'CONVERSATION_RATE', {}],
    ['user', 'USER_RATE', {}],
    ['clientType', 'CLIENT_TYPE_RATE', { 'imflow-client-type': 'web' }],
    ['application', 'APPLICATION_RATE', { 'imflow-app': 'crm' }],
  ] as const
  for (const [dimension, reason, headers] of cases) {
    it(`throttles per ${dimension} past its burst, then recovers`, async () => {
      limits = {
        ...limits,
        capacity: 1_000,
        [dimension]: { default: { rate: 2, burst: 3 }, overrides: {} },
      }
      for (let i = 0; i < 3; i++) expect((await send('dm', {}, headers)).kind).toBe('Accepted')
      expect(await send('dm', {}, headers)).toEqual({
        kind: 'Throttled',
        reason,
        retryAfterMs: 500,
      })
      // Another key of the dimension is not held back (no header: no such dimension at all).
      expect((await send('big', {}, {})).kind).toBe('Accepted')
      now += 500
      expect((await send('dm', {}, headers)).kind).toBe('Accepted')
    })
  }

  it('reads the buckets of a slice’s senders ahead, and still refuses past the limit', async () => {
    limits = { ...limits, capacity: 1_000, user: { default: { rate: 1, burst: 1 }, overrides: {} } }
    const senders = Array.from({ length: 30 }, (_, i) => `big-u${i}`)
    const record = (senderId: string) => ({
      key: 'big',
      value: codecs.sendMessage.encode({
        conversationId: 'big',
        clientMsgId: `c${++seq}`,
        senderId,
        type: 'TEXT',
        body: 'hi',
        priority: 'HIGH',
        visibility: 'NORMAL',
        targets: [],
        sentAt: now,
      }),
      timestamp: now,
    })
    // Each sender twice: the second of each is over the user limit.
    const reads = await driver.pipeSlice(topics.ingest, [...senders, ...senders].map(record))
    const outcomes = await Promise.all(
      driver
        .read(topics.receipts)
        .map(async (r) => (await codecs.receipt.decode(r.value as Buffer)).outcome.kind),
    )
    expect(outcomes).toEqual([...senders.map(() => 'Accepted'), ...senders.map(() => 'Throttled')])
    // Each sender's bucket (and dedupe entry) was read ahead; processing read nearly nothing.
    expect(reads.prefetchReads).toBeGreaterThanOrEqual(2 * senders.length)
    expect(reads.processReads).toBeLessThan(5)
  })
})

describe('smart throttling', () => {
  it('holds a large group flood to capacity and leaves 1:1 chats alone', async () => {
    let accepted = 0
    let throttled = 0
    let dms = 0
    for (let second = 0; second < 5; second++) {
      for (let slot = 0; slot < 10; slot++) {
        // 100 flood messages a second (10x capacity) and 2 direct messages.
        for (let i = 0; i < 10; i++) {
          const o = await send('big')
          if (o.kind === 'Accepted') accepted++
          else if (o.kind === 'Throttled' && o.reason === 'OVERLOAD') throttled++
        }
        if (slot % 5 === 0) {
          expect((await send('dm')).kind).toBe('Accepted')
          dms++
        }
        await tick(100)
      }
    }
    expect(dms).toBe(10)
    expect(accepted + throttled).toBe(500)
    // Capacity 10/s for 5 s, plus the first burst, less the direct messages' share.
    expect(accepted).toBeGreaterThanOrEqual(35)
    expect(accepted).toBeLessThanOrEqual(60)
  })
})
