// Waiting for a new topic's leaders (ops/kafka-admin.ts): a partition not served yet is waited
// for, whatever kafkajs makes of the broker's answer meanwhile. The admin here answers as a
// loaded broker did once (a ListOffsets answer kafkajs could not read: a TypeError from inside
// it), then as a ready one.

import type { Admin } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { waitForLeaders } from '../../ops/kafka-admin.js'

/** An admin whose topic has its leader from the start and answers ListOffsets from the `ready`th call on. */
function admin(ready: number) {
  let calls = 0
  const fake = {
    fetchTopicMetadata: async () => ({
      topics: [{ name: 't', partitions: [{ partitionId: 0, leader: 1 }] }],
    }),
    fetchTopicOffsets: async () => {
      if (++calls < ready)
        throw new TypeError("Cannot destructure property 'partitions' of 'low.pop(...)'")
      return [{ partition: 0, offset: '0', high: '0', low: '0' }]
    },
  }
  return { admin: fake as unknown as Admin, calls: () => calls }
}

describe('waitForLeaders', () => {
  it('waits through answers kafkajs cannot read until every partition is served', async () => {
    const a = admin(3)
    await waitForLeaders(a.admin, ['t'])
    expect(a.calls()).toBe(3)
  })

  it('gives up after its retries, saying which topic is not served', async () => {
    const a = admin(Number.POSITIVE_INFINITY)
    await expect(waitForLeaders(a.admin, ['t'], { retries: 2 })).rejects.toThrow(
      /t not served yet: Cannot destructure/,
    )
    expect(a.calls()).toBe(3)
  })
})
