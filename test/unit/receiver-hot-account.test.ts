// A hot account: one sender messaging 1,000 users, each in a 1:1 conversation, over six
// partitions. Ingest is keyed by conversation, so the sender's messages spread over the
// receiver's partitions as the conversations do. The hand-off is keyed by user: every message
// also goes to the sender's own inbox, so the sender's one user partition gets a record per
// message — unless the sender is a system account, whose own copy is not handed off. Its
// receipts stay on its own partition of im.receipts, by design (docs/send-path.md).
// Skew is max/mean of the records per partition (1.0: even).

import { describe, expect, it } from 'vitest'
import type { ConversationEvent, SendMessage } from '../../schemas/types.generated.js'
import { receiverTopology } from '../../topologies/receiver/index.js'
import { partitionForKey, TopologyTestDriver } from '../../topologies/runtime/index.js'
import { receiverCodecs, receiverTopics } from './receiver-codecs.js'

const PARTITIONS = 6
const USERS = 1_000
const topics = receiverTopics
const now = Date.UTC(2026, 10, 26, 12)

/** max/mean of counts per partition, every partition counted (an idle one too). */
function skew(partitions: (number | undefined)[]): number {
  const counts = new Array<number>(PARTITIONS).fill(0)
  for (const p of partitions) counts[p ?? 0] = (counts[p ?? 0] ?? 0) + 1
  const mean = counts.reduce((a, b) => a + b, 0) / PARTITIONS
  return Math.max(...counts) / mean
}

/** The system account messages each user once; the partitions its ingest and hand-off used. */
async function run(systemAccounts: string[]) {
  const codecs = await receiverCodecs()
  const driver = new TopologyTestDriver(
    receiverTopology({
      topics,
      codecs,
      unit: 0,
      userPartitions: PARTITIONS,
      clock: () => now,
      systemAccounts: new Set(systemAccounts),
    }),
  )
  const cids = Array.from({ length: USERS }, (_, i) => `notify:user-${i}`)
  for (const [i, cid] of cids.entries()) {
    const created: ConversationEvent = {
      conversationId: cid,
      actorId: 'root',
      at: now,
      change: {
        kind: 'ConversationCreated',
        conversationType: 'SINGLE',
        members: ['system', `user-${i}`],
        admins: [],
        unit: '',
      },
    }
    const value = codecs.conversationEvent.encode(created)
    const partition = partitionForKey(cid, PARTITIONS)
    await driver.pipe(topics.conversations, { key: cid, value, timestamp: now, partition })
  }
  driver.read(topics.fanout) // the creations' membership hand-offs: not the messages'
  const ingest: number[] = []
  for (const [i, cid] of cids.entries()) {
    const message: SendMessage = {
      conversationId: cid,
      clientMsgId: `n-${i}`,
      senderId: 'system',
      type: 'TEXT',
      body: 'your order shipped',
      priority: 'HIGH',
      visibility: 'NORMAL',
      targets: [],
      sentAt: now,
    }
    const partition = partitionForKey(cid, PARTITIONS)
    const sent = { key: cid, value: codecs.sendMessage.encode(message), timestamp: now }
    await driver.pipe(topics.ingest, { ...sent, partition })
    ingest.push(partition)
  }
  return { ingest, driver }
}

describe('receiver: a hot account', () => {
  it('spreads over the partitions once its own copies stay home', { timeout: 60_000 }, async () => {
    const before = await run([])
    // Messages only (the creations were read off): one hand-off per user partition per message.
    const beforeFanout = before.driver.read(topics.fanout).map((r) => r.partition)
    const after = await run(['system'])
    const afterFanout = after.driver.read(topics.fanout).map((r) => r.partition)

    // Keyed by conversation, the sender's messages are as even as its conversations' ids.
    expect(skew(before.ingest)).toBeLessThan(1.25)
    // Every message also to the sender's partition: it does (P+1)/2 = 3.5x the mean, about.
    expect(skew(beforeFanout)).toBeGreaterThan(3)
    expect(beforeFanout.filter((p) => p === partitionForKey('system', PARTITIONS)).length).toBe(
      USERS,
    )
    // A system account's copy is not handed off: one record per message, on its user's partition.
    expect(afterFanout).toHaveLength(USERS)
    expect(skew(afterFanout)).toBeLessThan(1.25)
    // Receipts stay keyed by their sender (the producer reads its own): all on one partition.
    const receipts = after.driver
      .read(topics.receipts)
      .map((r) => partitionForKey(String(r.key), PARTITIONS))
    expect(receipts).toHaveLength(USERS)
    expect(skew(receipts)).toBe(PARTITIONS)
  })
})
