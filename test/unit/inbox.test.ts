// The inbox (user-keyed) through the test driver: private messages land in each recipient's
// inbox, delete-for-me in the deleting user's, and normal messages are not copied.

import { describe, expect, it } from 'vitest'
import { createEventCodec } from '../../schemas/codec.js'
import { memorySchemaSource } from '../../schemas/schema-source.js'
import type { FanoutBatch, StoredMessage } from '../../schemas/types.generated.js'
import {
  deletedKey,
  INBOX_STORES,
  inboxPrefix,
  inboxTopology,
} from '../../topologies/inbox/index.js'
import { TopologyTestDriver } from '../../topologies/runtime/index.js'

const message = (msgId: string, visibility: StoredMessage['visibility']): StoredMessage => ({
  msgId,
  conversationId: 'c',
  senderId: 'ann',
  clientMsgId: msgId,
  type: 'TEXT',
  body: msgId,
  priority: 'HIGH',
  visibility,
  targets: visibility === 'PRIVATE' ? ['ben'] : [],
  createdAt: 1_000 + Number(msgId),
  sentAt: 1_000,
})

describe('inbox', () => {
  it('stores P per recipient, NP per user, and no copy of N', async () => {
    const codec = await createEventCodec(memorySchemaSource(), 'fanout-value', 'FanoutBatch')
    const driver = new TopologyTestDriver(inboxTopology({ fanout: 'fanout', codec }))
    const pipe = (batch: FanoutBatch) =>
      driver.pipe('fanout', { key: 'c', value: codec.encode(batch), timestamp: 1 })
    const newMessage = (m: StoredMessage, recipients: string[]): FanoutBatch => ({
      partition: 0,
      recipients,
      sourceId: m.msgId,
      event: { priority: 'HIGH', payload: { kind: 'NewMessage', message: m } },
    })
    await pipe(newMessage(message('1', 'NORMAL'), ['ann', 'ben', 'cy']))
    await pipe(newMessage(message('2', 'PRIVATE'), ['ann', 'ben']))
    await pipe({
      partition: 0,
      recipients: ['cy'],
      sourceId: 'deleted:cy:1',
      event: {
        priority: 'LOW',
        payload: { kind: 'MessageDeleted', conversationId: 'c', msgId: '1' },
      },
    })
    const inboxOf = async (user: string) => {
      const ids: string[] = []
      for await (const [k] of driver.store(INBOX_STORES.inbox).prefix(inboxPrefix(user, 'c')))
        ids.push(k.toString('latin1'))
      return ids.length
    }
    expect([await inboxOf('ann'), await inboxOf('ben'), await inboxOf('cy')]).toEqual([1, 1, 0])
    const deleted = driver.store(INBOX_STORES.deleted)
    expect(await deleted.get(deletedKey('cy', 'c', '1'))).toBeDefined()
    expect(await deleted.get(deletedKey('ann', 'c', '1'))).toBeUndefined()
  })
})
