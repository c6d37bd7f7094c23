// The merge's pure parts: read intervals, emoji validation, counts from the cursor
// histogram, and the client's per-conversation merging of its own read receipts.

import { describe, expect, it } from 'vitest'
import { ClientState } from '../../connectors/client/index.js'
import { ReadMerger } from '../../connectors/client/read-merger.js'
import type { SyncEvent } from '../../schemas/types.generated.js'
import { ChangeloggedStore, MemoryStore } from '../../state/index.js'
import { addInterval } from '../../topologies/merge/emission-windows.js'
import { emojiProblem } from '../../topologies/merge/index.js'
import { ReadCursors, readCounts } from '../../topologies/merge/read-cursors.js'

describe('addInterval', () => {
  it('joins overlapping and touching intervals and keeps them sorted', () => {
    let list = addInterval([], '10', '20')
    list = addInterval(list, '30', '40')
    expect(list).toEqual([
      ['10', '20'],
      ['30', '40'],
    ])
    expect(addInterval(list, '21', '29')).toEqual([['10', '40']])
    expect(addInterval(list, '5', '12')).toEqual([
      ['5', '20'],
      ['30', '40'],
    ])
    expect(addInterval(list, '100', '100')).toEqual([
      ['10', '20'],
      ['30', '40'],
      ['100', '100'],
    ])
  })

  it('stays bounded by joining the closest intervals', () => {
    let list: [string, string][] = []
    for (let i = 0; i < 100; i++) list = addInterval(list, String(i * 10), String(i * 10 + 1))
    expect(list.length).toBeLessThanOrEqual(32)
    expect(list[0]?.[0]).toBe('0')
    expect(list.at(-1)?.[1]).toBe('991')
  })
})

describe('emojiProblem', () => {
  it('takes short emoji, refuses empty, long, control characters and spaces', () => {
    expect(emojiProblem('👍')).toBeUndefined()
    expect(emojiProblem('👨‍👩‍👧‍👦')).toBeUndefined()
    expect(emojiProblem('+1')).toBeUndefined()
    expect(emojiProblem('')).toMatch(/empty/)
    expect(emojiProblem('a'.repeat(17))).toMatch(/16 characters/)
    expect(emojiProblem('😀'.repeat(16))).toBeUndefined()
    expect(emojiProblem('😀'.repeat(17))).toMatch(/16 characters/)
    expect(emojiProblem('a\u0000b')).toMatch(/control/)
    expect(emojiProblem('a b')).toMatch(/spaces/)
  })
})

describe('read counts from cursors', () => {
  it('count the cursors at or after each message, with three writes per receipt', async () => {
    const cursors = new ChangeloggedStore('cursors', new MemoryStore())
    const histogram = new ChangeloggedStore('histogram', new MemoryStore())
    const reads = new ReadCursors(cursors, histogram)
    expect(await reads.move('c', 'u1', '20')).toEqual({ userId: 'u1', from: undefined, to: '20' })
    await reads.move('c', 'u2', '10')
    await reads.move('c', 'u3', '30')
    await cursors.commit()
    await histogram.commit()
    expect(await reads.move('c', 'u1', '15')).toBeUndefined() // never backwards
    expect(await reads.move('c', 'u2', '30')).toEqual({ userId: 'u2', from: '10', to: '30' })
    expect(cursors.pendingWrites().length + histogram.pendingWrites().length).toBe(3)
    await reads.move('other', 'u9', '100') // another conversation: not counted here
    const counts = await readCounts(histogram, 'c', ['5', '10', '11', '20', '25', '30', '31'])
    expect(Object.fromEntries(counts)).toEqual({ 5: 3, 10: 3, 11: 3, 20: 3, 25: 2, 30: 2, 31: 0 })
    await reads.drop('c', 'u3')
    expect((await readCounts(histogram, 'c', ['30'])).get('30')).toBe(1)
  })

  it('tells without a scan that nobody has read a message past every cursor', async () => {
    const histogram = new ChangeloggedStore('h', new MemoryStore())
    const reads = new ReadCursors(new ChangeloggedStore('c', new MemoryStore()), histogram)
    expect(await reads.anyAtOrAfter('c', '10')).toBe(false) // no cursor yet
    await reads.move('c', 'u1', '20')
    expect(await reads.anyAtOrAfter('c', '20')).toBe(true)
    expect(await reads.anyAtOrAfter('c', '21')).toBe(false)
    await reads.move('c', 'u1', '40')
    expect(await reads.anyAtOrAfter('c', '35')).toBe(true)
    // Rolled back: the cursor is at 40 no more, and the bound is learnt again from the store.
    histogram.rollback()
    expect(await reads.anyAtOrAfter('c', '35')).toBe(false)
    expect(await reads.anyAtOrAfter('c', '41')).toBe(false)
  })
})

describe('ReadMerger', () => {
  it('sends one receipt per conversation per interval, the newest marked', async () => {
    const sent: [string, string][] = []
    const merger = new ReadMerger(async (cid, upTo) => {
      sent.push([cid, upTo])
    }, 20)
    for (let i = 1; i <= 50; i++) merger.mark('a', String(100 + i))
    merger.mark('b', '7')
    merger.mark('a', '120') // older than what is pending: no news
    await new Promise((r) => setTimeout(r, 60))
    expect(sent.sort()).toEqual([
      ['a', '150'],
      ['b', '7'],
    ])
    merger.mark('a', '149') // already sent something newer
    merger.mark('b', '8')
    await merger.flush()
    expect(sent.at(-1)).toEqual(['b', '8'])
    expect(sent).toHaveLength(3)
  })
})

describe('ClientState and merged updates', () => {
  it('keeps the read status and reactions of the latest window, whatever the order', () => {
    const state = new ClientState('ann')
    const at = (pts: number, payload: SyncEvent['payload']) => ({
      pts,
      event: { priority: 'LOW' as const, payload },
    })
    const status = (readCount: number, windowEnd: number): SyncEvent['payload'] =>
      ({
        kind: 'ReadStatus',
        conversationId: 'c',
        msgId: '1',
        readCount,
        newReaders: [],
        windowEnd,
      }) as const
    const summary = (n: number, windowEnd: number): SyncEvent['payload'] =>
      ({
        kind: 'ReactionSummary',
        conversationId: 'c',
        msgId: '1',
        counts: { '👍': n },
        windowEnd,
      }) as const
    state.applyEvents([
      at(1, {
        kind: 'NewMessage',
        message: {
          msgId: '1',
          conversationId: 'c',
          senderId: 'ann',
          clientMsgId: 'x',
          type: 'TEXT',
          body: 'hi',
          priority: 'HIGH',
          visibility: 'NORMAL',
          targets: [],
          createdAt: 1,
          sentAt: 1,
          seq: 0,
        },
      }),
      at(2, status(5, 2_000)),
      at(3, status(3, 1_000)), // an older window, arriving late
      at(4, summary(2, 2_000)),
      at(5, summary(1, 1_000)),
    ])
    expect(state.messages.messages('c')).toMatchObject([{ readCount: 5, reactions: { '👍': 2 } }])
    state.applyEvents([at(6, status(6, 3_000)), at(7, summary(0, 3_000))])
    expect(state.messages.messages('c')).toMatchObject([{ readCount: 6, reactions: { '👍': 0 } }])
  })
})
