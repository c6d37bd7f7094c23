// The merge topology through the topology test driver, with the real codec (schemas in
// memory): receipts and reactions merged per message and window, exact totals whatever is
// retried, replayed or late, and where each kind of update goes.

import { beforeEach, describe, expect, it } from 'vitest'
import type {
  Action,
  ConversationEvent,
  FanoutBatch,
  Receipt,
  RoomEvent,
} from '../../schemas/types.generated.js'
import { ChangeloggedStore, MemoryStore, type ReadWriteStore } from '../../state/index.js'
import { ACTION_MEMBER_WAIT_MS } from '../../topologies/merge/actions-awaiting-member.js'
import { MERGE_STORES, mergeTopology } from '../../topologies/merge/index.js'
import { readCounts } from '../../topologies/merge/read-cursors.js'
import { type StoreBackfill, TopologyTestDriver } from '../../topologies/runtime/index.js'
import { BackfillFold } from '../../topologies/runtime/internal/backfill-fold.js'
import { type ReceiverCodecs, receiverCodecs } from './receiver-codecs.js'

const topics = {
  conversations: 'im.conversations',
  actions: 'im.actions',
  messages: 'merge-messages',
  fanout: 'fanout',
  rooms: 'im.rooms',
}
const SMALL = 200
const LARGE = 1_000
const GRACE = 50
/** A window boundary of both sizes. */
const T = Date.UTC(2026, 10, 26, 12)

let codecs: ReceiverCodecs
let driver: TopologyTestDriver

beforeEach(async () => {
  codecs = await receiverCodecs()
  driver = new TopologyTestDriver(
    mergeTopology({
      topics,
      codecs,
      userPartitions: 4,
      largeGroupThreshold: 5,
      windows: { smallMs: SMALL, largeMs: LARGE, graceMs: GRACE },
    }),
    {
      deadLetters: { topic: 'dlq', encode: (l) => Buffer.from(`${l.errorCode}:${l.errorMessage}`) },
    },
  )
})

async function group(conversationId: string, members: string[]) {
  const event: ConversationEvent = {
    conversationId,
    actorId: null,
    at: T,
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
    timestamp: T - 10_000,
  })
}

async function sent(conversationId: string, senderId: string, msgId: string, at = T - 5_000) {
  const receipt: Receipt = {
    conversationId,
    clientMsgId: `c-${msgId}`,
    senderId,
    decidedAt: at,
    outcome: { kind: 'Accepted', msgId, createdAt: at },
  }
  await driver.pipe(topics.messages, {
    key: conversationId,
    value: codecs.receipt.encode(receipt),
    timestamp: at,
  })
}

async function act(conversationId: string, userId: string, action: Action['action'], at: number) {
  const value: Action = { conversationId, userId, at, action }
  await driver.pipe(topics.actions, {
    key: conversationId,
    value: codecs.action.encode(value),
    timestamp: at,
  })
}

const read = (cid: string, user: string, upToMsgId: string, at: number) =>
  act(cid, user, { kind: 'ReadReceipt', upToMsgId }, at)
const react = (
  cid: string,
  user: string,
  msgId: string,
  emoji: string,
  at: number,
  op: 'ADD' | 'REMOVE' = 'ADD',
) => act(cid, user, { kind: 'ReactionChanged', msgId, emoji, op }, at)

async function fanout(): Promise<FanoutBatch[]> {
  return Promise.all(
    driver.read(topics.fanout).map((r) => codecs.fanoutBatch.decode(r.value as Buffer)),
  )
}

async function rooms(): Promise<RoomEvent[]> {
  return Promise.all(
    driver.read(topics.rooms).map((r) => codecs.roomEvent.decode(r.value as Buffer)),
  )
}

/** The driver's wall clock: moved on to close the windows due, as on a quiet partition. */
let clock = 0
beforeEach(() => {
  clock = 0
})
async function closeAt(at: number) {
  const by = at - clock
  clock = at
  await driver.advanceWallClock(by)
}

describe('read receipts', () => {
  it('merge per message and window into one ReadStatus to the sender, with exact counts', async () => {
    await group('g', ['ann', 'bob', 'cat', 'dan'])
    for (const id of ['101', '102', '103']) await sent('g', 'ann', id)
    await read('g', 'bob', '102', T + 10)
    await read('g', 'bob', '102', T + 20) // a retry
    await read('g', 'bob', '101', T + 30) // backwards: the cursor stays
    await read('g', 'cat', '103', T + 40)
    await read('g', 'dan', '101', T + 50)
    await read('g', 'ann', '103', T + 60) // the sender is no reader of her own messages
    expect(await fanout()).toEqual([]) // nothing before the window closes
    await closeAt(T + SMALL + GRACE)
    const statuses = (await fanout()).map((b) => ({ to: b.recipients, ...b.event.payload }))
    expect(statuses).toEqual([
      {
        to: ['ann'],
        kind: 'ReadStatus',
        conversationId: 'g',
        msgId: '101',
        readCount: 3,
        newReaders: ['bob', 'cat', 'dan'],
        windowEnd: T + SMALL,
      },
      {
        to: ['ann'],
        kind: 'ReadStatus',
        conversationId: 'g',
        msgId: '102',
        readCount: 2,
        newReaders: ['bob', 'cat'],
        windowEnd: T + SMALL,
      },
      {
        to: ['ann'],
        kind: 'ReadStatus',
        conversationId: 'g',
        msgId: '103',
        readCount: 1,
        newReaders: ['cat'],
        windowEnd: T + SMALL,
      },
    ])
    // The next window carries only what changed in it.
    await read('g', 'dan', '103', T + SMALL + 100)
    await closeAt(T + 2 * SMALL + GRACE)
    expect((await fanout()).map((b) => b.event.payload)).toMatchObject([
      { msgId: '102', readCount: 3, newReaders: ['dan'] },
      { msgId: '103', readCount: 2, newReaders: ['dan'] },
    ])
  })

  it('count a receipt that arrives after its window closed in the window open then', async () => {
    await group('g', ['ann', 'bob', 'cat'])
    await sent('g', 'ann', '101')
    await read('g', 'bob', '101', T + 10)
    await closeAt(T + SMALL + GRACE)
    expect(await fanout()).toHaveLength(1)
    await read('g', 'cat', '101', T + 20) // stamped in the closed window
    await closeAt(T + 3 * SMALL + GRACE)
    expect((await fanout()).map((b) => b.event.payload)).toMatchObject([
      { msgId: '101', readCount: 2, newReaders: ['cat'] },
    ])
  })

  it('emit the status of a message learnt after cursors passed it', async () => {
    await group('g', ['ann', 'bob'])
    await read('g', 'bob', '105', T + 10)
    await closeAt(T + SMALL + GRACE)
    expect(await fanout()).toEqual([]) // no known message: no sender to tell
    await sent('g', 'ann', '104', T + SMALL + 60)
    await closeAt(T + 2 * SMALL + GRACE)
    expect((await fanout()).map((b) => [b.recipients, b.event.payload])).toMatchObject([
      [['ann'], { msgId: '104', readCount: 1 }],
    ])
  })

  it('ignore non-members and forget the cursor of a member who left', async () => {
    await group('g', ['ann', 'bob', 'cat'])
    await sent('g', 'ann', '101')
    await read('g', 'eve', '101', T + 10)
    await read('g', 'bob', '101', T + 20)
    await read('g', 'cat', '101', T + 30)
    await driver.pipe(topics.conversations, {
      key: 'g',
      value: codecs.conversationEvent.encode({
        conversationId: 'g',
        actorId: null,
        at: T,
        change: { kind: 'MembersRemoved', userIds: ['cat'] },
      }),
      timestamp: T + 40,
    })
    await read('g', 'bob', '101', T + 50)
    await closeAt(T + SMALL + GRACE)
    expect((await fanout()).map((b) => b.event.payload)).toMatchObject([
      { msgId: '101', readCount: 1 },
    ])
  })
})

describe('an action that comes before its sender is known a member', () => {
  async function joined(conversationId: string, userIds: string[], at: number) {
    await driver.pipe(topics.conversations, {
      key: conversationId,
      value: codecs.conversationEvent.encode({
        conversationId,
        actorId: null,
        at,
        change: { kind: 'MembersAdded', userIds },
      }),
      timestamp: at,
    })
  }
  async function waiting(): Promise<number> {
    let n = 0
    for await (const _ of driver.store(MERGE_STORES.awaitingMember).range()) n++
    return n
  }

  it('is applied once she joins, in the order her actions came', async () => {
    await group('g', ['ann', 'bob'])
    await sent('g', 'ann', '101')
    await sent('g', 'ann', '102')
    // cat's receipts and reaction overtook the record adding her (another topic).
    await read('g', 'cat', '101', T + 10)
    await react('g', 'cat', '101', '👍', T + 15)
    await read('g', 'cat', '102', T + 20)
    expect(await waiting()).toBe(6) // three actions, each by conversation and by deadline
    await joined('g', ['cat'], T + 30)
    expect(await waiting()).toBe(0)
    await closeAt(T + SMALL + GRACE)
    const payloads = (await fanout()).map((b) => b.event.payload)
    expect(payloads).toContainEqual(
      expect.objectContaining({
        kind: 'ReadStatus',
        msgId: '102',
        readCount: 1,
        newReaders: ['cat'],
      }),
    )
    expect(payloads).toContainEqual(
      expect.objectContaining({ kind: 'ReactionSummary', msgId: '101', counts: { '👍': 1 } }),
    )
  })

  it('waits for a group created after it', async () => {
    await react('h', 'bob', '201', '🎉', T - 9_000)
    await group('h', ['ann', 'bob'])
    await sent('h', 'ann', '201')
    await closeAt(T + SMALL + GRACE)
    expect((await fanout()).map((b) => b.event.payload)).toContainEqual(
      expect.objectContaining({ kind: 'ReactionSummary', msgId: '201', counts: { '🎉': 1 } }),
    )
  })

  it("is a non-member's once it waited ACTION_MEMBER_WAIT_MS: dropped, and not applied if she joins later", async () => {
    await group('g', ['ann', 'bob'])
    await sent('g', 'ann', '101')
    await closeAt(T)
    await read('g', 'eve', '101', T + 10)
    await closeAt(T + ACTION_MEMBER_WAIT_MS - 1_000)
    expect(await waiting()).toBe(2)
    await closeAt(T + ACTION_MEMBER_WAIT_MS + 1_000)
    expect(await waiting()).toBe(0)
    await joined('g', ['eve'], T + ACTION_MEMBER_WAIT_MS + 2_000)
    await closeAt(T + ACTION_MEMBER_WAIT_MS + 2_000 + SMALL + GRACE)
    expect((await fanout()).map((b) => b.event.payload)).not.toContainEqual(
      expect.objectContaining({ kind: 'ReadStatus' }),
    )
  })
})

describe('reactions', () => {
  it('count once per user and emoji, however often retried; removing nothing changes nothing', async () => {
    await group('g', ['ann', 'bob', 'cat'])
    await sent('g', 'ann', '101')
    await react('g', 'bob', '101', '👍', T + 10)
    await react('g', 'bob', '101', '👍', T + 20) // a retry
    await react('g', 'cat', '101', '👍', T + 30)
    await react('g', 'cat', '101', '🎉', T + 40)
    await react('g', 'cat', '101', '🎉', T + 50, 'REMOVE')
    await react('g', 'ann', '101', '❤️', T + 60, 'REMOVE') // never added
    await closeAt(T + SMALL + GRACE)
    const batches = await fanout()
    // A small group: one summary to every member, one hand-off record per user partition.
    expect(batches.flatMap((b) => b.recipients).sort()).toEqual(['ann', 'bob', 'cat'])
    for (const b of batches)
      expect(b.event.payload).toEqual({
        kind: 'ReactionSummary',
        conversationId: 'g',
        msgId: '101',
        counts: { '👍': 2 },
        windowEnd: T + SMALL,
      })
    // Removing what nothing changed in a window emits nothing.
    await react('g', 'ann', '101', '❤️', T + SMALL + 60, 'REMOVE')
    await closeAt(T + 2 * SMALL + GRACE)
    expect(await fanout()).toEqual([])
  })

  it('go once to a large group’s room, and read statuses still to the sender alone', async () => {
    const members = ['ann', 'bob', 'cat', 'dan', 'eve', 'fay']
    await group('big', members)
    await sent('big', 'ann', '101')
    for (const [i, user] of members.entries()) {
      await react('big', user, '101', i % 2 ? '👍' : '🎉', T + 10 * i)
      await read('big', user, '101', T + 10 * i + 5)
    }
    await closeAt(T + SMALL + GRACE)
    expect(await rooms()).toEqual([]) // a large group's window is longer
    await closeAt(T + LARGE + GRACE)
    expect(await rooms()).toEqual([
      {
        conversationId: 'big',
        seq: 0,
        createdAt: T + LARGE,
        event: {
          priority: 'LOW',
          payload: {
            kind: 'ReactionSummary',
            conversationId: 'big',
            msgId: '101',
            counts: { '🎉': 3, '👍': 3 },
            windowEnd: T + LARGE,
          },
        },
        removed: [],
      },
    ])
    expect((await fanout()).map((b) => [b.recipients, b.event.priority, b.event.payload])).toEqual([
      [
        ['ann'],
        'LOW',
        {
          kind: 'ReadStatus',
          conversationId: 'big',
          msgId: '101',
          readCount: 5,
          newReaders: [],
          windowEnd: T + LARGE,
        },
      ],
    ])
  })

  it('dead-letter a malformed reaction a producer wrote', async () => {
    await group('g', ['ann', 'bob'])
    await react('g', 'bob', '101', 'x'.repeat(17), T + 10)
    await react('g', 'bob', 'not-an-id', '👍', T + 20)
    const letters = driver.read('dlq').map((r) => r.value?.toString())
    expect(letters).toHaveLength(2)
    expect(letters[0]).toMatch(/^IMF_ERR_INVALID_ACTION:the emoji has more than 16/)
    expect(letters[1]).toMatch(/^IMF_ERR_INVALID_ACTION:"not-an-id" is not a message id/)
  })
})

describe('reading ahead', () => {
  it('reads a slice’s senders, readers’ cursors and histogram cells ahead; counts stay exact', async () => {
    const members = Array.from({ length: 20 }, (_, i) => `u${i}`)
    await group('g', members)
    const messages = ['1000001', '1000002', '1000003']
    const receipts = messages.map((msgId) => ({
      key: 'g',
      value: codecs.receipt.encode({
        conversationId: 'g',
        clientMsgId: `c-${msgId}`,
        senderId: 'u0',
        decidedAt: T - 5_000,
        outcome: { kind: 'Accepted', msgId, createdAt: T - 5_000 },
      }),
      timestamp: T - 5_000,
    }))
    const indexed = await driver.pipeSlice(topics.messages, receipts)
    expect(indexed.prefetchReads).toBeGreaterThanOrEqual(messages.length)
    // What is left per message: the scan of who read it already (a range, not a read).
    expect(indexed.processReads).toBe(0)
    const reads = members.map((userId, i) => ({
      key: 'g',
      value: codecs.action.encode({
        conversationId: 'g',
        userId,
        at: T,
        action: { kind: 'ReadReceipt', upToMsgId: messages[i % 3] as string },
      }),
      timestamp: T,
    }))
    const applied = await driver.pipeSlice(topics.actions, reads)
    // Each reader's cursor, and each cell moved to once (conversation and members are held).
    expect(applied.prefetchReads).toBe(members.length + messages.length)
    // Left to processing: the window's entry, read once and then held.
    expect(applied.processReads).toBe(1)
    const counts = await readCounts(driver.store('read-histogram'), 'g', messages)
    // Up to the 1st: everyone; to the 2nd: readers 1, 2, 4, 5, ... (13 of 20); to the 3rd: 6.
    expect([...counts.values()]).toEqual([20, 13, 6])
  })
})

describe('the senders store', () => {
  it('is built from merge-messages by the fold merge writes it with (its backfill)', async () => {
    const topology = mergeTopology({
      topics,
      codecs,
      userPartitions: 4,
      windows: { smallMs: SMALL, largeMs: LARGE, graceMs: GRACE },
    })
    const backfill = topology.backfill?.['message-senders'] as StoreBackfill
    expect(backfill.topic).toBe(topics.messages)
    await group('g', ['ann', 'bob'])
    const receipts: Receipt[] = [
      ...['101', '102', '103'].map((msgId) => ({
        conversationId: 'g',
        clientMsgId: `c-${msgId}`,
        senderId: msgId === '102' ? 'bob' : 'ann',
        decidedAt: T,
        outcome: { kind: 'Accepted' as const, msgId, createdAt: T },
      })),
    ]
    // A retry's receipt again, with another sender: the first one stays.
    receipts.push({ ...(receipts[0] as Receipt), senderId: 'eve' })
    const built = new ChangeloggedStore('message-senders', new MemoryStore())
    const fold = new BackfillFold(topology, backfill, built, 0, undefined)
    for (const [i, receipt] of receipts.entries()) {
      const value = codecs.receipt.encode(receipt)
      await driver.pipe(topics.messages, { key: 'g', value, timestamp: T })
      await fold.apply({ offset: String(i), timestamp: String(T), key: Buffer.from('g'), value })
    }
    await built.commit()
    const entries = async (store: ReadWriteStore) => {
      const out: string[] = []
      for await (const [key, value] of store.range()) out.push(`${key.toString('hex')}=${value}`)
      return out
    }
    const live = await entries(driver.store('message-senders'))
    expect(live.map((e) => e.split('=')[1])).toEqual(['ann', 'bob', 'ann'])
    expect(await entries(built)).toEqual(live)
  })
})
