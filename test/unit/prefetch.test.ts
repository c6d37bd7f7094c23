// Reading ahead (Processor.prefetch): a slice's store reads go out at once before its records
// are processed, so processing finds them in memory instead of waiting for each RocksDB read
// in turn. Counted at the stores' bottom layer through the topology test driver.

import { describe, expect, it } from 'vitest'
import { createEventCodec } from '../../schemas/codec.js'
import { memorySchemaSource } from '../../schemas/schema-source.js'
import type { FanoutBatch, StoredMessage } from '../../schemas/types.generated.js'
import { inboxTopology } from '../../topologies/inbox/index.js'
import { receiverTopology } from '../../topologies/receiver/index.js'
import { TopologyTestDriver } from '../../topologies/runtime/index.js'
import { syncTopology } from '../../topologies/sync/index.js'
import { receiverCodecs, receiverTopics } from './receiver-codecs.js'
import { settings, syncCodecs, topics as syncTopics } from './sync-support.js'

const MEMBERS = Array.from({ length: 40 }, (_, i) => `m${i}`)
const now = Date.UTC(2026, 10, 26, 12)

function stored(n: number): StoredMessage {
  return {
    msgId: String(1_000_000 + n),
    conversationId: 'g1',
    senderId: 'm0',
    clientMsgId: `c${n}`,
    type: 'TEXT',
    body: `hello ${n}`,
    priority: 'HIGH',
    visibility: 'NORMAL',
    targets: [],
    createdAt: now + n,
    sentAt: now + n,
    seq: 0,
  }
}

const handOff = (n: number): FanoutBatch => ({
  partition: 0,
  recipients: MEMBERS,
  sourceId: String(1_000_000 + n),
  event: { priority: 'HIGH', payload: { kind: 'NewMessage', message: stored(n) } },
  updateLists: true,
})

describe('prefetch', () => {
  it('receiver: the dedupe checks of a slice’s messages are read ahead', async () => {
    const codecs = await receiverCodecs()
    const topics = receiverTopics
    const driver = new TopologyTestDriver(
      receiverTopology({ topics, codecs, unit: 0, userPartitions: 4, clock: () => now }),
    )
    await driver.pipe(topics.conversations, {
      key: 'g1',
      value: codecs.conversationEvent.encode({
        conversationId: 'g1',
        actorId: null,
        at: now,
        change: {
          kind: 'ConversationCreated',
          conversationType: 'GROUP',
          members: MEMBERS,
          admins: [],
          unit: '',
        },
      }),
      timestamp: now,
    })
    const sends = MEMBERS.map((senderId, i) => ({
      key: 'g1',
      value: codecs.sendMessage.encode({
        conversationId: 'g1',
        clientMsgId: `c${i}`,
        senderId,
        type: 'TEXT',
        body: 'hi',
        priority: 'HIGH',
        visibility: 'NORMAL',
        targets: [],
        sentAt: now,
      }),
      timestamp: now,
    }))
    const reads = await driver.pipeSlice(topics.ingest, sends)
    const receipts = await Promise.all(
      driver.read(topics.receipts).map((r) => codecs.receipt.decode(r.value as Buffer)),
    )
    expect(receipts.map((r) => r.outcome.kind)).toEqual(MEMBERS.map(() => 'Accepted'))
    // Per message a dedupe miss (the conversation and its members are held since their commit).
    expect(reads.prefetchReads).toBeGreaterThanOrEqual(MEMBERS.length)
    expect(reads.processReads).toBeLessThan(5)
  })

  it('sync: each recipient’s PTS index, state and pending notification are read ahead', async () => {
    const codecs = await syncCodecs()
    const driver = new TopologyTestDriver(syncTopology({ topics: syncTopics, codecs, settings }))
    const slice = [1, 2, 3].map((n) => ({
      key: 'g1',
      value: codecs.fanoutBatch.encode(handOff(n)),
      timestamp: now,
    }))
    const reads = await driver.pipeSlice(syncTopics.fanout, slice)
    // 3 x 40 PTS index misses, and 40 users' state and notifications.
    expect(reads.prefetchReads).toBeGreaterThanOrEqual(3 * MEMBERS.length + 2 * MEMBERS.length)
    expect(reads.processReads).toBe(0)
  })

  it('inbox: the list rows a slice’s small-group messages change are read ahead', async () => {
    const codec = await createEventCodec(memorySchemaSource(), 'fanout-value', 'FanoutBatch')
    const driver = new TopologyTestDriver(inboxTopology({ fanout: 'fanout', codec }))
    const slice = [1, 2].map((n) => ({
      key: 'g1',
      value: codec.encode(handOff(n)),
      timestamp: now,
    }))
    const reads = await driver.pipeSlice('fanout', slice)
    expect(reads.prefetchReads).toBe(MEMBERS.length) // one row per member, asked twice
    expect(reads.processReads).toBe(0)
  })
})
