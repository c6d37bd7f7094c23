// The read_committed filter that replaces kafkajs' (ops/kafkajs-read-committed.ts): records of
// aborted transactions never pass, however the aborted transactions interleave.

import { describe, expect, it } from 'vitest'
import { filterAbortedMessages } from '../../ops/kafkajs-read-committed.js'

const ABORT = Buffer.from([0, 0, 0, 0])
const COMMIT = Buffer.from([0, 0, 0, 1])
const record = (offset: number, producerId: string, inTransaction = true) => ({
  offset: String(offset),
  key: Buffer.from(`k${offset}`),
  batchContext: { producerId, inTransaction },
})
const marker = (offset: number, producerId: string, key: Buffer) => ({
  offset: String(offset),
  key,
  isControlRecord: true,
  batchContext: { producerId, inTransaction: true },
})
const offsets = (messages: { offset: string; isControlRecord?: boolean }[]) =>
  messages.filter((m) => !m.isControlRecord).map((m) => Number(m.offset))

describe('filterAbortedMessages', () => {
  it('drops a second aborted producer whose transaction began before the fetch (kafkajs let it through)', () => {
    // The fetch starts at 2, inside p1's (from 0) and p2's (from 1) aborted transactions.
    const messages = [
      record(2, 'p2'),
      record(3, 'p1'),
      marker(4, 'p1', ABORT),
      marker(5, 'p2', ABORT),
      record(6, 'p3'),
    ]
    const aborted = [
      { producerId: 'p1', firstOffset: '0' },
      { producerId: 'p2', firstOffset: '1' },
    ]
    expect(offsets(filterAbortedMessages({ messages, abortedTransactions: aborted }))).toEqual([6])
  })

  it('keeps a producer’s committed transaction after its aborted one', () => {
    const messages = [
      record(0, 'p1'),
      marker(1, 'p1', ABORT),
      record(2, 'p1'),
      marker(3, 'p1', COMMIT),
    ]
    const aborted = [{ producerId: 'p1', firstOffset: '0' }]
    expect(offsets(filterAbortedMessages({ messages, abortedTransactions: aborted }))).toEqual([2])
  })

  it('keeps records outside transactions and everything when nothing aborted', () => {
    const messages = [record(0, 'p1', false), record(1, 'p2')]
    expect(
      offsets(
        filterAbortedMessages({
          messages,
          abortedTransactions: [{ producerId: 'p1', firstOffset: '0' }],
        }),
      ),
    ).toEqual([0, 1])
    expect(filterAbortedMessages({ messages, abortedTransactions: [] })).toBe(messages)
  })
})
