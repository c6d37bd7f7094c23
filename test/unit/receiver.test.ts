// The receiver through the topology test driver, with the real codec (schemas in memory).

import { beforeEach, describe, expect, it } from 'vitest'
import { parseMsgId } from '../../schemas/msg-id.js'
import type {
  ConversationEvent,
  FanoutBatch,
  Receipt,
  SendMessage,
  StoredMessage,
} from '../../schemas/types.generated.js'
import { decodeStoredMessage, RECEIVER_STORES as STORES } from '../../topologies/model/index.js'
import { receiverTopology } from '../../topologies/receiver/index.js'
import { TopologyTestDriver } from '../../topologies/runtime/index.js'
import { partitionForKey } from '../../topologies/runtime/partitioner.js'
import { type ReceiverCodecs, receiverCodecs, receiverTopics } from './receiver-codecs.js'

const topics = receiverTopics

let codecs: ReceiverCodecs
let driver: TopologyTestDriver
let now: number

beforeEach(async () => {
  codecs = await receiverCodecs()
  now = Date.UTC(2026, 10, 23, 12)
  driver = new TopologyTestDriver(
    receiverTopology({
      topics,
      codecs,
      unit: 2,
      userPartitions: 4,
      clock: () => now,
      limits: { maxBodyBytes: 100, maxClientMsgIdLength: 16 },
    }),
  )
  await conversation('g1', {
    kind: 'ConversationCreated',
    conversationType: 'GROUP',
    members: ['alice', 'bob', 'carol'],
    admins: ['alice'],
    unit: '',
  })
})

async function conversation(conversationId: string, change: ConversationEvent['change']) {
  const event: ConversationEvent = { conversationId, actorId: null, at: now, change }
  await driver.pipe(topics.conversations, {
    key: conversationId,
    value: codecs.conversationEvent.encode(event),
    timestamp: now,
  })
}

function message(overrides: Partial<SendMessage> = {}): SendMessage {
  return {
    conversationId: 'g1',
    clientMsgId: 'c-1',
    senderId: 'bob',
    type: 'TEXT',
    body: 'hello',
    priority: 'HIGH',
    visibility: 'NORMAL',
    targets: [],
    sentAt: now - 5,
    ...overrides,
  }
}

/** The hand-off records of new messages written since the last read (membership ones skipped). */
async function fanout(): Promise<(FanoutBatch & { recordPartition: number | undefined })[]> {
  const all = await Promise.all(
    driver.read(topics.fanout).map(async (r) => ({
      ...(await codecs.fanoutBatch.decode(r.value as Buffer)),
      recordPartition: r.partition,
    })),
  )
  return all.filter((b) => b.event.payload.kind === 'NewMessage')
}

async function send(m: SendMessage, headers: Record<string, string> = {}): Promise<Receipt> {
  await driver.pipe(topics.ingest, {
    key: m.conversationId,
    value: codecs.sendMessage.encode(m),
    timestamp: now,
    headers,
  })
  const out = driver.read(topics.receipts)
  expect(out).toHaveLength(1)
  return codecs.receipt.decode(out[0]?.value as Buffer)
}

describe('receiver', () => {
  it('accepts a member’s message with a msgId of this unit and worker, stored once in the log', async () => {
    const receipt = await send(message())
    expect(receipt.outcome.kind).toBe('Accepted')
    if (receipt.outcome.kind !== 'Accepted') return
    expect(receipt.outcome.createdAt).toBe(now)
    expect(parseMsgId(receipt.outcome.msgId)).toMatchObject({ unit: 2, worker: 0, timeMs: now })
    const batches = await fanout()
    expect(batches.flatMap((b) => b.recipients).sort()).toEqual(['alice', 'bob', 'carol'])
    for (const b of batches) {
      expect(b.sourceId).toBe(receipt.outcome.msgId)
      expect(b.event.payload).toMatchObject({
        kind: 'NewMessage',
        message: { msgId: receipt.outcome.msgId, body: 'hello' },
      })
      for (const user of b.recipients) expect(partitionForKey(user, 4)).toBe(b.partition)
    }
    const log: StoredMessage[] = []
    for await (const [, v] of driver.store(STORES.messages).prefix(Buffer.from('g1\u0000')))
      log.push(decodeStoredMessage(v))
    expect(log.map((m) => m.msgId)).toEqual([receipt.outcome.msgId])
  })

  it('gives a retry with the same clientMsgId the same msgId, and stores nothing twice', async () => {
    const first = await send(message())
    expect((await fanout()).length).toBeGreaterThan(0)
    now += 1_000
    const again = await send(message())
    expect(again.outcome).toEqual(first.outcome)
    expect((await fanout()).length).toBe(0) // the retry was answered, not delivered again
  })

  it('rejects with a reason: not a member, unknown conversation, too large, invalid, bad targets', async () => {
    const reasons = async (m: SendMessage) => {
      const r = await send(m)
      return r.outcome.kind === 'Rejected' ? r.outcome.reason : r.outcome.kind
    }
    expect(await reasons(message({ senderId: 'mallory' }))).toBe('NOT_MEMBER')
    expect(await reasons(message({ conversationId: 'nope' }))).toBe('UNKNOWN_CONVERSATION')
    expect(await reasons(message({ body: 'x'.repeat(101) }))).toBe('TOO_LARGE')
    expect(await reasons(message({ clientMsgId: '' }))).toBe('INVALID')
    expect(await reasons(message({ clientMsgId: 'x'.repeat(17) }))).toBe('INVALID')
    expect(await reasons(message({ visibility: 'PRIVATE', targets: [] }))).toBe('BAD_TARGETS')
    expect(await reasons(message({ visibility: 'PRIVATE', targets: ['mallory'] }))).toBe(
      'BAD_TARGETS',
    )
    expect(await fanout()).toEqual([])
  })

  it('lets only admins speak in a muted group, and tells every member it is muted', async () => {
    const handedOff = () =>
      Promise.all(
        driver.read(topics.fanout).map((r) => codecs.fanoutBatch.decode(r.value as Buffer)),
      )
    await handedOff()
    await conversation('g1', { kind: 'MuteChanged', muted: true })
    const changed = await handedOff()
    expect(changed.flatMap((b) => b.recipients).sort()).toEqual(['alice', 'bob', 'carol'])
    expect(changed.map((b) => b.event.payload)).toEqual(
      changed.map(() => ({
        kind: 'ConversationChanged',
        conversationId: 'g1',
        description: 'muted',
      })),
    )
    await conversation('g1', { kind: 'MuteChanged', muted: true }) // no change, no event
    expect(await handedOff()).toEqual([])
    const fromMember = await send(message())
    expect(fromMember.outcome).toMatchObject({ kind: 'Rejected', reason: 'MUTED' })
    const fromAdmin = await send(message({ senderId: 'alice', clientMsgId: 'a-1' }))
    expect(fromAdmin.outcome.kind).toBe('Accepted')
  })

  it('follows membership changes, in checks and in fan-out', async () => {
    expect((await send(message({ senderId: 'alice', clientMsgId: 'a-0' }))).outcome.kind).toBe(
      'Accepted',
    )
    expect((await fanout()).flatMap((b) => b.recipients).sort()).toEqual(['alice', 'bob', 'carol'])
    await conversation('g1', { kind: 'MembersRemoved', userIds: ['bob'] })
    expect((await send(message())).outcome).toMatchObject({ reason: 'NOT_MEMBER' })
    await conversation('g1', { kind: 'MembersAdded', userIds: ['bob', 'dave'] })
    expect((await send(message({ clientMsgId: 'c-2' }))).outcome.kind).toBe('Accepted')
    // The cached member list was refreshed by the changes.
    expect((await fanout()).flatMap((b) => b.recipients).sort()).toEqual([
      'alice',
      'bob',
      'carol',
      'dave',
    ])
    expect((await send(message({ senderId: 'dave', clientMsgId: 'd-1' }))).outcome.kind).toBe(
      'Accepted',
    )
  })

  it('does not log a PRIVATE message in the conversation, but forwards it', async () => {
    const receipt = await send(message({ visibility: 'PRIVATE', targets: ['carol'] }))
    expect(receipt.outcome.kind).toBe('Accepted')
    const log: unknown[] = []
    for await (const entry of driver.store(STORES.messages).prefix(Buffer.from('g1\u0000')))
      log.push(entry)
    expect(log).toEqual([])
    expect((await fanout()).flatMap((b) => b.recipients).sort()).toEqual(['bob', 'carol'])
  })

  it('writes the same per message whatever the group size: small groups one hand-off per partition, large ones one room event', async () => {
    const rooms = async () =>
      Promise.all(driver.read(topics.rooms).map((r) => codecs.roomEvent.decode(r.value as Buffer)))
    for (const [cid, size] of [
      ['big-2k', 2_000],
      ['big-10k', 10_000],
    ] as const) {
      await conversation(cid, {
        kind: 'ConversationCreated',
        conversationType: 'GROUP',
        members: Array.from({ length: size }, (_, i) => `user-${i}`),
        admins: [],
        unit: '',
      })
    }
    const stores = [
      'conversation-messages',
      'conversations',
      'members',
      'dedupe',
      'conversation-seq',
    ]
    const changelogs = stores.map((s) => `test-receiver-${s}-changelog`)
    const written = () => changelogs.map((topic) => driver.read(topic).length)
    written() // what creating the groups wrote
    await fanout()
    await rooms()

    const small = await send(
      message({ conversationId: 'g1', senderId: 'bob', clientMsgId: 'w-g1' }),
    )
    expect(small.outcome.kind).toBe('Accepted')
    // conversation_message once, one dedupe entry; nothing per member, no seq
    expect(written()).toEqual([1, 0, 0, 1, 0])
    const batches = await fanout()
    expect(batches.length).toBeLessThanOrEqual(4) // one per user partition, not per member
    expect(batches.flatMap((b) => b.recipients)).toHaveLength(3)
    for (const b of batches) expect(b.recordPartition).toBe(b.partition)
    expect(await rooms()).toEqual([])

    const perMessage: number[][] = []
    for (const cid of ['big-2k', 'big-10k', 'big-10k']) {
      const receipt = await send(
        message({
          conversationId: cid,
          senderId: 'user-7',
          clientMsgId: `w-${cid}-${perMessage.length}`,
        }),
      )
      expect(receipt.outcome.kind).toBe('Accepted')
      perMessage.push(written())
      expect(await fanout()).toEqual([]) // no member gets a per-user event
      const [event, ...more] = await rooms()
      expect(more).toEqual([])
      expect(event?.conversationId).toBe(cid)
      const msgId = receipt.outcome.kind === 'Accepted' ? receipt.outcome.msgId : ''
      expect(event?.event.payload).toMatchObject({
        kind: 'NewMessage',
        message: { msgId, seq: event?.seq },
      })
    }
    // the log, the conversation's seq, one dedupe entry, the seq index: the same for 2,000 and 10,000
    expect(perMessage).toEqual([
      [1, 1, 0, 1, 1],
      [1, 1, 0, 1, 1],
      [1, 1, 0, 1, 1],
    ])
    // each conversation counts its own seq from 1, without gaps
    const seqs: number[] = []
    for await (const [, v] of driver.store(STORES.messages).prefix(Buffer.from('big-10k\u0000')))
      seqs.push(decodeStoredMessage(v).seq)
    expect(seqs).toEqual([1, 2])
  })

  it('tells members’ inboxes who joined and what they read, and sequences large groups per conversation, and tells members when a group crosses the threshold', async () => {
    const batches = async () =>
      Promise.all(
        driver.read(topics.fanout).map((r) => codecs.fanoutBatch.decode(r.value as Buffer)),
      )
    await batches() // what creating g1 handed off
    await conversation('g9', {
      kind: 'ConversationCreated',
      conversationType: 'GROUP',
      members: ['bob', 'eve'],
      admins: [],
      unit: '',
    })
    const joined = await batches()
    expect(joined.flatMap((b) => b.recipients).sort()).toEqual(['bob', 'eve'])
    expect(joined.every((b) => b.event.payload.kind === 'MembershipChanged')).toBe(true)

    const first = await send(message({ conversationId: 'g9', clientMsgId: 'r-1' }))
    const sent = await batches()
    expect(sent.every((b) => b.updateLists)).toBe(true) // 2 members: a small group
    const msgId = first.outcome.kind === 'Accepted' ? first.outcome.msgId : ''
    const read = async (upToMsgId: string) => {
      const action = {
        conversationId: 'g9',
        userId: 'eve',
        at: now,
        action: { kind: 'ReadReceipt' as const, upToMsgId },
      }
      await driver.pipe(topics.actions, {
        key: 'g9',
        value: codecs.action.encode(action),
        timestamp: now,
      })
      return batches()
    }
    const [readBatch] = await read(msgId)
    expect(readBatch?.recipients).toEqual(['eve'])
    expect(readBatch?.event.payload).toEqual({
      kind: 'ConversationRead',
      conversationId: 'g9',
      upToMsgId: msgId,
    })
    expect(await read('1')).toEqual([]) // a cursor never moves back

    const large = new TopologyTestDriver(
      receiverTopology({
        topics,
        codecs,
        unit: 0,
        userPartitions: 4,
        largeGroupThreshold: 2,
        clock: () => now,
      }),
    )
    const change = async (c: ConversationEvent['change']) => {
      const event: ConversationEvent = { conversationId: 'g9', actorId: null, at: now, change: c }
      await large.pipe(topics.conversations, {
        key: 'g9',
        value: codecs.conversationEvent.encode(event),
        timestamp: now,
      })
      return Promise.all(
        large.read(topics.fanout).map((r) => codecs.fanoutBatch.decode(r.value as Buffer)),
      )
    }
    const sendTo = async (clientMsgId: string) => {
      await large.pipe(topics.ingest, {
        key: 'g9',
        value: codecs.sendMessage.encode(message({ conversationId: 'g9', clientMsgId })),
        timestamp: now,
      })
      const handedOff = await Promise.all(
        large.read(topics.fanout).map((r) => codecs.fanoutBatch.decode(r.value as Buffer)),
      )
      const rooms = await Promise.all(
        large.read(topics.rooms).map((r) => codecs.roomEvent.decode(r.value as Buffer)),
      )
      return { handedOff, rooms }
    }
    await change({
      kind: 'ConversationCreated',
      conversationType: 'GROUP',
      members: ['bob', 'eve'],
      admins: [],
      unit: '',
    })
    const asSmall = await sendTo('s-1')
    expect(asSmall.rooms).toEqual([])
    expect(asSmall.handedOff.flatMap((b) => b.recipients).sort()).toEqual(['bob', 'eve'])
    expect(asSmall.handedOff.every((b) => b.updateLists)).toBe(true)

    // Past the threshold: every member is told once that the group is large now.
    const grown = await change({ kind: 'MembersAdded', userIds: ['zed'] })
    const told = grown.filter((b) => b.event.payload.kind === 'ConversationChanged')
    expect(told.flatMap((b) => b.recipients).sort()).toEqual(['bob', 'eve', 'zed'])
    expect(told[0]?.event.payload).toMatchObject({ description: 'large' })
    const one = await sendTo('l-1')
    const two = await sendTo('l-2')
    expect([...one.handedOff, ...two.handedOff]).toEqual([])
    expect([...one.rooms, ...two.rooms].map((r) => r.seq)).toEqual([1, 2])
    // A mute is one room event, not one per member.
    expect(await change({ kind: 'MuteChanged', muted: true })).toEqual([])
    const muted = await Promise.all(
      large.read(topics.rooms).map((r) => codecs.roomEvent.decode(r.value as Buffer)),
    )
    expect(muted.map((r) => [r.seq, r.event.payload])).toEqual([
      [0, { kind: 'ConversationChanged', conversationId: 'g9', description: 'muted' }],
    ])
    await change({ kind: 'MuteChanged', muted: false })
    large.read(topics.rooms)
    // Back under it: per-user hand-offs again, told once.
    const shrunk = await change({ kind: 'MembersRemoved', userIds: ['zed'] })
    expect(
      shrunk
        .filter((b) => b.event.payload.kind === 'ConversationChanged')
        .flatMap((b) => b.recipients)
        .sort(),
    ).toEqual(['bob', 'eve'])
    // Its room names who left, so the gateways stop pushing it to them at once.
    const notice = await Promise.all(
      large.read(topics.rooms).map((r) => codecs.roomEvent.decode(r.value as Buffer)),
    )
    expect(notice.map((r) => [r.seq, r.removed, r.event.payload])).toEqual([
      [0, ['zed'], { kind: 'MembershipChanged', conversationId: 'g9', member: false }],
    ])
    const small = await sendTo('s-2')
    expect(small.rooms).toEqual([])
    expect(small.handedOff.flatMap((b) => b.recipients).sort()).toEqual(['bob', 'eve'])
  })

  it('copies the reply headers to the receipt, and ids strictly increase', async () => {
    await driver.pipe(topics.ingest, {
      key: 'g1',
      value: codecs.sendMessage.encode(message({ clientMsgId: 'h-1' })),
      timestamp: now,
      headers: { 'imflow-reply-to': 'api-7', 'imflow-request-id': 'r-42' },
    })
    const [receipt] = driver.read(topics.receipts)
    expect(receipt?.headers).toEqual({ 'imflow-reply-to': 'api-7', 'imflow-request-id': 'r-42' })
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      const r = await send(message({ clientMsgId: `s-${i}` }))
      if (r.outcome.kind === 'Accepted') ids.push(r.outcome.msgId)
    }
    expect(ids.map(BigInt)).toEqual([...ids.map(BigInt)].sort((a, b) => (a < b ? -1 : 1)))
    expect(new Set(ids).size).toBe(5)
  })

  it('keeps creation times in order when the clock steps back', async () => {
    const first = await send(message({ clientMsgId: 't-1' }))
    now -= 60_000 // NTP steps the clock back a minute
    const second = await send(message({ clientMsgId: 't-2' }))
    if (first.outcome.kind !== 'Accepted' || second.outcome.kind !== 'Accepted')
      throw new Error('expected both accepted')
    expect(second.outcome.createdAt).toBeGreaterThanOrEqual(first.outcome.createdAt)
    expect(BigInt(second.outcome.msgId) > BigInt(first.outcome.msgId)).toBe(true)
  })

  it('throttles through the admission hook', async () => {
    const throttling = new TopologyTestDriver(
      receiverTopology({
        topics,
        codecs,
        unit: 0,
        userPartitions: 4,
        admission: {
          stores: [],
          open: (_context, deliver) => ({
            admit: () => ({ admit: false, reason: 'USER_RATE', retryAfterMs: 250 }),
            defer: (_id, stored) => deliver(stored),
          }),
        },
      }),
    )
    const created: ConversationEvent = {
      conversationId: 'g2',
      actorId: null,
      at: now,
      change: {
        kind: 'ConversationCreated',
        conversationType: 'SINGLE',
        members: ['bob', 'eve'],
        admins: [],
        unit: '',
      },
    }
    await throttling.pipe(topics.conversations, {
      key: 'g2',
      value: codecs.conversationEvent.encode(created),
      timestamp: now,
    })
    await throttling.pipe(topics.ingest, {
      key: 'g2',
      value: codecs.sendMessage.encode(message({ conversationId: 'g2' })),
      timestamp: now,
    })
    const [out] = throttling.read(topics.receipts)
    expect((await codecs.receipt.decode(out?.value as Buffer)).outcome).toEqual({
      kind: 'Throttled',
      reason: 'USER_RATE',
      retryAfterMs: 250,
    })
  })
})
