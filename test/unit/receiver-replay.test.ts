// Replaying the receiver's input gives the same msgIds and creation times, whenever it runs:
// they come from the records' time, not the clock at processing (docs/replay.md).

import { describe, expect, it } from 'vitest'
import { receiverTopology } from '../../topologies/receiver/index.js'
import { TopologyTestDriver } from '../../topologies/runtime/index.js'
import { receiverCodecs, receiverTopics } from './receiver-codecs.js'

const topics = receiverTopics
const T0 = Date.UTC(2026, 10, 26, 9)

async function run(clockAt: number) {
  const codecs = await receiverCodecs()
  let clock = clockAt
  const driver = new TopologyTestDriver(
    receiverTopology({ topics, codecs, unit: 1, userPartitions: 2, clock: () => clock }),
  )
  await driver.pipe(topics.conversations, {
    key: 'g',
    timestamp: T0,
    value: codecs.conversationEvent.encode({
      conversationId: 'g',
      actorId: null,
      at: T0,
      change: {
        kind: 'ConversationCreated',
        conversationType: 'GROUP',
        members: ['ann', 'ben'],
        admins: [],
        unit: '',
      },
    }),
  })
  const outcomes = []
  // Bursts in one millisecond, gaps, and a record older than the one before it.
  for (const [i, offset] of [0, 0, 0, 7, 7, 1_500, 1_499, 90_000].entries()) {
    clock += 3 // processing takes time; the ids must not depend on it
    await driver.pipe(topics.ingest, {
      key: 'g',
      timestamp: T0 + offset,
      value: codecs.sendMessage.encode({
        conversationId: 'g',
        clientMsgId: `m${i}`,
        senderId: 'ann',
        type: 'TEXT',
        body: 'hi',
        priority: 'HIGH',
        visibility: 'NORMAL',
        targets: [],
        sentAt: T0,
      }),
    })
    const [receipt] = driver.read(topics.receipts)
    outcomes.push((await codecs.receipt.decode(receipt?.value as Buffer)).outcome)
  }
  return outcomes
}

describe('receiver replay', () => {
  it('issues the same msgIds and creation times however late the input is processed', async () => {
    const live = await run(T0 + 100_000)
    const replayed = await run(T0 + 86_400_000)
    expect(replayed).toEqual(live)
    const accepted = live.map((o) => (o.kind === 'Accepted' ? o : undefined))
    expect(accepted.every((o) => o !== undefined)).toBe(true)
    // The creation time is the record's (a record older than the last keeps the id order).
    expect(accepted.map((o) => (o?.createdAt ?? 0) - T0)).toEqual([
      0, 0, 0, 7, 7, 1_500, 1_500, 90_000,
    ])
    expect(new Set(accepted.map((o) => o?.msgId)).size).toBe(8)
  })

  it('never dates an id after the clock, even for a record stamped in the future', async () => {
    const outcomes = await run(T0 - 10_000)
    const first = outcomes[0]
    expect(first?.kind === 'Accepted' ? first.createdAt : 0).toBe(T0 - 10_000 + 3)
  })
})
