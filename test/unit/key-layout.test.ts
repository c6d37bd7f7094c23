// The key layouts are stored data: a change to one makes existing stores and changelogs
// unreadable. These pin each layout's bytes and the orderings the queries rely on.

import { describe, expect, it } from 'vitest'
import { int64Serde } from '../../state/index.js'
import {
  conversationPrefix,
  dedupeKey,
  deletedKey,
  inboxKey,
  inboxPrefix,
  isLargeGroup,
  listKey,
  memberKey,
  messageKey,
  messagePosition,
  POSITION_TIME_BYTES,
  ptsIndexKey,
  syncQueueKey,
  userPrefix,
} from '../../topologies/model/index.js'

const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))))

describe('key layouts', () => {
  it('joins ids with a 0 byte', () => {
    expect(memberKey('c1', 'ann')).toEqual(bytes('c1', [0], 'ann'))
    expect(listKey('ann', 'c1')).toEqual(bytes('ann', [0], 'c1'))
    expect(conversationPrefix('c1')).toEqual(bytes('c1', [0]))
    expect(userPrefix('ann')).toEqual(bytes('ann', [0]))
    expect(inboxPrefix('ann', 'c1')).toEqual(bytes('ann', [0], 'c1', [0]))
    expect(deletedKey('ann', 'c1', 'm1')).toEqual(bytes('ann', [0], 'c1', [0], 'm1'))
    expect(ptsIndexKey('ann', 'read:1')).toEqual(bytes('ann', [0], 'read:1'))
    expect(dedupeKey('ann', 'x')).toBe('ann\u0000x')
  })

  it('puts a message at its creation time (8 bytes, big-endian), then its id', () => {
    const position = messagePosition(258, 'm1')
    expect(position).toEqual(bytes([0, 0, 0, 0, 0, 0, 1, 2], 'm1'))
    expect(position.length).toBe(POSITION_TIME_BYTES + 2)
    expect(messageKey('c1', 258, 'm1')).toEqual(Buffer.concat([bytes('c1', [0]), position]))
    // An inbox entry is the user, a 0 byte, then the conversation log's key.
    expect(inboxKey('ann', 'c1', 258, 'm1')).toEqual(
      Buffer.concat([bytes('ann', [0]), messageKey('c1', 258, 'm1')]),
    )
  })

  it('orders a conversation log by time, across id lengths, and a sync queue by PTS', () => {
    const older = messageKey('c1', 255, 'zzzz')
    const newer = messageKey('c1', 256, 'a')
    expect(Buffer.compare(older, newer)).toBe(-1)
    expect(Buffer.compare(syncQueueKey('ann', 255), syncQueueKey('ann', 256))).toBe(-1)
    expect(syncQueueKey('ann', 7).subarray(0, 4)).toEqual(userPrefix('ann'))
  })

  it('writes times and PTS as int64Serde does, and ids as UTF-8', () => {
    for (const n of [0, 255, 2 ** 32 - 1, 2 ** 32, 1_764_000_000_123, 2 ** 53 - 1]) {
      expect(syncQueueKey('ann', n)).toEqual(
        Buffer.concat([userPrefix('ann'), int64Serde.serialize(n)]),
      )
      expect(messagePosition(n, 'm').subarray(0, 8)).toEqual(int64Serde.serialize(n))
    }
    expect(listKey('zoë', '群1')).toEqual(bytes('zoë', [0], '群1'))
  })
})

describe('the large-group rule', () => {
  it('is large only above the threshold', () => {
    expect(isLargeGroup(500, 500)).toBe(false)
    expect(isLargeGroup(501, 500)).toBe(true)
  })
})
