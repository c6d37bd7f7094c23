// The linear grouping of a produce request's records that replaces kafkajs' quadratic one
// (ops/kafkajs-partition-grouping.ts): the same partitions, the same records in the same order.

import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import {
  groupMessagesPerPartition,
  partitionGroupingFixed,
} from '../../ops/kafkajs-partition-grouping.js'

interface Message {
  key: string
  n: number
}

/** kafkajs 2.2.4's own grouping, as it is written there. */
function kafkajsGrouping(messages: Message[], partitionOf: (m: Message) => number) {
  return messages.reduce<Record<number, Message[]>>((result, message) => {
    const partition = partitionOf(message)
    const current = result[partition] || []
    return Object.assign(result, { [partition]: [...current, message] })
  }, {})
}

describe('kafkajs partition grouping', () => {
  it('is the one kafkajs producers use (primed before kafkajs loaded)', () => {
    expect(partitionGroupingFixed()).toBe(true)
    const require = createRequire(import.meta.url)
    expect(require('kafkajs/src/producer/groupMessagesPerPartition.js')).toBe(
      groupMessagesPerPartition,
    )
  })

  it('groups as kafkajs does: each partition its records, in order', () => {
    let seed = 7
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed / 2 ** 31
    }
    const messages = Array.from({ length: 2_000 }, (_, n) => ({
      key: `k${Math.floor(random() * 50)}`,
      n,
    }))
    const partitionOf = (m: Message) => Number(m.key.slice(1)) % 7
    const grouped = groupMessagesPerPartition({
      topic: 't',
      partitionMetadata: Array.from({ length: 7 }, (_, partitionId) => ({ partitionId })),
      messages,
      partitioner: ({ message }) => partitionOf(message),
    })
    expect(grouped).toEqual(kafkajsGrouping(messages, partitionOf))
    expect(Object.keys(grouped)).toHaveLength(7)
  })

  it('groups nothing for a topic without partition metadata', () => {
    const grouped = groupMessagesPerPartition({
      topic: 't',
      partitionMetadata: [],
      messages: [{ key: 'a', n: 1 }],
      partitioner: () => 0,
    })
    expect(grouped).toEqual({})
  })
})
