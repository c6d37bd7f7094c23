// The client library's pure state: message lists deduped by msgId and ordered by createdAt
// then msgId, deletions that stick, events applied once in PTS order, metadata backfill and
// Rebase.

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ClientState } from '../../connectors/client/client-state.js'
import { MessageStore } from '../../connectors/client/message-store.js'
import type { ClientMessage, ConversationListEntry } from '../../connectors/client/types.js'
import type { SequencedEvent, SyncEvent } from '../../schemas/types.generated.js'

const message = (msgId: string, createdAt: number, extra: Partial<ClientMessage> = {}) =>
  ({
    msgId,
    conversationId: 'c1',
    senderId: 'bob',
    type: 'TEXT',
    body: `body ${msgId}`,
    createdAt,
    priority: 'HIGH',
    visibility: 'NORMAL',
    ...extra,
  }) satisfies ClientMessage

const newMessage = (m: ClientMessage): SyncEvent => ({
  priority: 'HIGH',
  payload: {
    kind: 'NewMessage',
    message: { ...m, clientMsgId: `client-${m.msgId}`, targets: [], sentAt: m.createdAt, seq: 0 },
  },
})

const at = (pts: number, event: SyncEvent): SequencedEvent => ({ pts, event })

const listed = (conversationId: string): ConversationListEntry => ({
  conversationId,
  type: 'GROUP',
  memberCount: 3,
  muted: false,
  large: false,
  unread: 0,
  last: null,
})

describe('MessageStore', () => {
  it('keeps one copy per msgId, ordered by createdAt then msgId, whatever the arrival order', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ id: fc.integer({ min: 1, max: 40 }), createdAt: fc.integer({ max: 5 }) }),
          { maxLength: 60 },
        ),
        (arrivals) => {
          const store = new MessageStore()
          // A msgId's creation time is fixed: later copies are duplicates of the first.
          const firstTime = new Map<number, number>()
          for (const { id, createdAt } of arrivals) {
            if (!firstTime.has(id)) firstTime.set(id, createdAt)
            store.add(message(String(id), firstTime.get(id) as number))
          }
          const held = store.messages('c1')
          const expected = [...firstTime]
            .sort(([a, ta], [b, tb]) => ta - tb || a - b)
            .map(([id]) => String(id))
          return JSON.stringify(held.map((m) => m.msgId)) === JSON.stringify(expected)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('orders equal creation times by msgId as numbers, not as text', () => {
    const store = new MessageStore()
    store.add(message('100', 5))
    store.add(message('99', 5))
    store.add(message('7', 9))
    store.add(message('1000', 1))
    expect(store.messages('c1').map((m) => m.msgId)).toEqual(['1000', '99', '100', '7'])
  })

  it('keeps a deleted message deleted when a late copy arrives, and after a replace', () => {
    const store = new MessageStore()
    expect(store.add(message('1', 1))).toBe(true)
    expect(store.add(message('1', 1))).toBe(false)
    expect(store.delete('c1', '1')).toBe(true)
    expect(store.add(message('1', 1))).toBe(false)
    // A deletion pushed before the message itself still wins.
    expect(store.delete('c1', '2')).toBe(false)
    expect(store.add(message('2', 2))).toBe(false)
    store.replace('c1', [message('1', 1), message('3', 3)])
    expect(store.messages('c1').map((m) => m.msgId)).toEqual(['3'])
  })
})

describe('ClientState', () => {
  it('applies events once, in PTS order, and counts only others’ messages as unread', () => {
    const state = new ClientState('ann', 2)
    const first = state.applyEvents([
      at(1, newMessage(message('1', 1))), // older than what the device holds
      at(3, newMessage(message('3', 3))),
      at(5, newMessage(message('5', 5, { senderId: 'ann' }))),
    ])
    expect(first.applied.map((e) => e.pts)).toEqual([3, 5])
    expect(first.describe).toEqual(new Set(['c1']))
    expect(state.lastPts).toBe(5)
    // A re-send from the last ack: nothing new.
    expect(state.applyEvents([at(3, newMessage(message('3', 3)))]).applied).toEqual([])
    // The same message under a new PTS (pulled after a Rebase, then pushed): one copy.
    state.applyEvents([at(6, newMessage(message('3', 3)))])
    expect(state.messages.messages('c1').map((m) => m.msgId)).toEqual(['3', '5'])
    expect(state.conversation('c1')).toMatchObject({
      unread: 1,
      last: { msgId: '5', senderId: 'ann' },
      described: false,
    })
  })

  it('applies deletions, read statuses, reactions, reads and membership', () => {
    const state = new ClientState('ann')
    state.applyEvents([
      at(1, newMessage(message('1', 1))),
      at(2, newMessage(message('2', 2))),
      at(3, {
        priority: 'LOW',
        payload: {
          kind: 'ReadStatus',
          conversationId: 'c1',
          msgId: '1',
          readCount: 4,
          newReaders: [],
          windowEnd: 1_000,
        },
      }),
      at(4, {
        priority: 'LOW',
        payload: {
          kind: 'ReactionSummary',
          conversationId: 'c1',
          msgId: '1',
          counts: { '👍': 2 },
          windowEnd: 1_000,
        },
      }),
      at(5, {
        priority: 'HIGH',
        payload: { kind: 'MessageDeleted', conversationId: 'c1', msgId: '2' },
      }),
    ])
    expect(state.messages.messages('c1')).toMatchObject([
      { msgId: '1', readCount: 4, reactions: { '👍': 2 } },
    ])
    // The deleted message was the last one: the list shows the one before it.
    expect(state.conversation('c1')).toMatchObject({ unread: 2, last: { msgId: '1' } })
    state.applyEvents([
      at(6, {
        priority: 'HIGH',
        payload: { kind: 'ConversationRead', conversationId: 'c1', upToMsgId: '1' },
      }),
    ])
    expect(state.conversation('c1')?.unread).toBe(0)
    const joined = state.applyEvents([
      at(7, {
        priority: 'HIGH',
        payload: { kind: 'MembershipChanged', conversationId: 'c2', member: true },
      }),
    ])
    expect(joined.describe).toEqual(new Set(['c2']))
    expect(joined.pull).toEqual(new Set()) // a join's messages come by PTS
    expect(
      state
        .conversations()
        .map((c) => c.conversationId)
        .sort(),
    ).toEqual(['c1', 'c2'])
    state.applyEvents([
      at(8, {
        priority: 'HIGH',
        payload: { kind: 'MembershipChanged', conversationId: 'c1', member: false },
      }),
    ])
    expect(state.conversation('c1')).toBeUndefined()
    expect(state.messages.messages('c1')).toEqual([])
  })

  it('after a move, pulls the page of a row the reload missed; not of a join, nor a large group', () => {
    const state = new ClientState('ann', 0, { big: 3 })
    const joined = (pts: number, conversationId: string) =>
      at(pts, {
        priority: 'HIGH',
        payload: { kind: 'MembershipChanged', conversationId, member: true },
      })
    // An ordinary join: its messages come by PTS.
    expect(state.applyEvents([joined(1, 'early')]).pull).toEqual(new Set())
    // The reload after the user's home moved listed 'c1'; 'small' and 'big' came after it.
    state.rebase(0, [{ ...listed('c1') }], new Map([['c1', []]]), { keepUnlisted: true })
    expect(state.applyEvents([joined(1, 'c1'), joined(2, 'big'), joined(3, 'small')]).pull).toEqual(
      new Set(['small']),
    )
    // The page merges with what was pushed meanwhile; the list's counts come with its description.
    state.applyEvents([at(4, newMessage(message('3', 30, { conversationId: 'small' })))])
    // A history page's messages name no conversation (fromHistory sets it).
    const page = [message('1', 10), message('3', 30)]
    const added = state.addLatest('small', page)
    expect(added.map((m) => m.msgId)).toEqual(['1'])
    expect(state.messages.messages('small').map((m) => m.msgId)).toEqual(['1', '3'])
    expect(state.conversation('small')).toMatchObject({ unread: 1, last: { msgId: '3' } })
    // A large group not followed yet when its join came: its page (seq numbered) is left to
    // its room's catch-up.
    expect(state.addLatest('late-big', [{ ...message('9', 90), seq: 1 }])).toEqual([])
    expect(state.messages.messages('late-big')).toEqual([])
  })

  it('asks for metadata of conversations it has not seen and of changed ones, and takes it', () => {
    const state = new ClientState('ann')
    state.applyEvents([at(1, newMessage(message('1', 10)))])
    const entry: ConversationListEntry = {
      conversationId: 'c1',
      type: 'GROUP',
      memberCount: 12,
      muted: false,
      large: false,
      unread: 1,
      last: { msgId: '1', senderId: 'bob', type: 'TEXT', preview: 'body 1', createdAt: 10 },
    }
    state.describe([entry, { ...entry, conversationId: 'other' }], new Set(['c1']))
    expect(state.conversation('c1')).toMatchObject({
      type: 'GROUP',
      memberCount: 12,
      described: true,
    })
    expect(state.conversation('other')).toBeUndefined()
    // Described: further pushes do not ask again, a change does.
    expect(state.applyEvents([at(2, newMessage(message('2', 11)))]).describe.size).toBe(0)
    const changed = state.applyEvents([
      at(3, {
        priority: 'HIGH',
        payload: { kind: 'ConversationChanged', conversationId: 'c1', description: 'muted' },
      }),
    ])
    expect(changed.describe).toEqual(new Set(['c1']))
    // A list read before the newest push does not take back its count or last message.
    state.describe([entry])
    expect(state.conversation('c1')).toMatchObject({ unread: 2, last: { msgId: '2' } })
  })

  it('rebases onto the latest pages and continues from the head', () => {
    const state = new ClientState('ann', 50)
    state.applyEvents([
      at(51, newMessage(message('1', 1))),
      at(52, newMessage(message('9', 9, { conversationId: 'gone' }))),
    ])
    state.rebase(
      40, // the head may be below what the device claimed: pushes resume from it
      [
        {
          conversationId: 'c1',
          type: 'SINGLE',
          memberCount: 2,
          muted: false,
          large: false,
          unread: 3,
          last: { msgId: '30', senderId: 'bob', type: 'TEXT', preview: 'x', createdAt: 30 },
        },
      ],
      new Map([
        [
          'c1',
          [
            {
              msgId: '30',
              senderId: 'bob',
              type: 'TEXT',
              body: 'x',
              createdAt: 30,
              priority: 'HIGH',
              visibility: 'NORMAL',
            },
            {
              msgId: '20',
              senderId: 'bob',
              type: 'TEXT',
              body: 'y',
              createdAt: 20,
              priority: 'HIGH',
              visibility: 'NORMAL',
            },
          ],
        ],
      ]),
    )
    expect(state.lastPts).toBe(40)
    expect(state.messages.messages('c1').map((m) => m.msgId)).toEqual(['20', '30'])
    expect(state.messages.messages('gone')).toEqual([])
    expect(state.conversations()).toMatchObject([
      { conversationId: 'c1', unread: 3, described: true },
    ])
    expect(state.applyEvents([at(41, newMessage(message('30', 30)))]).applied).toHaveLength(1)
    expect(state.messages.messages('c1')).toHaveLength(2)
  })
})
