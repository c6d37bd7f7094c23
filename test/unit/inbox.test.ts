// The inbox (user-keyed) through the test driver: private messages land in each recipient's
// inbox, delete-for-me in the deleting user's, and normal messages are not copied.

import { describe, expect, it } from 'vitest'
import { createEventCodec } from '../../schemas/codec.js'
import { memorySchemaSource } from '../../schemas/schema-source.js'
import type { FanoutBatch, StoredMessage } from '../../schemas/types.generated.js'
import { inboxTopology, markRead } from '../../topologies/inbox/index.js'
import {
  deletedKey,
  INBOX_STORES,
  inboxPrefix,
  inboxStores,
  listKey,
  unreadIds,
} from '../../topologies/model/index.js'
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
  seq: 0,
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
      updateLists: true,
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
      updateLists: true,
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

  it('keeps small groups’ lists at send time, large groups’ not at all, and counts reads exactly', async () => {
    const codec = await createEventCodec(memorySchemaSource(), 'fanout-value', 'FanoutBatch')
    const driver = new TopologyTestDriver(inboxTopology({ fanout: 'fanout', codec }))
    const pipe = (
      payload: FanoutBatch['event']['payload'],
      recipients: string[],
      updateLists = true,
    ) =>
      driver.pipe('fanout', {
        key: 'c',
        value: codec.encode({
          partition: 0,
          recipients,
          sourceId: 'x',
          event: { priority: 'HIGH', payload },
          updateLists,
        }),
        timestamp: 1,
      })
    const lists = driver.store(INBOX_STORES.lists)
    const row = async (user: string, cid = 'c') => {
      const bytes = await lists.get(listKey(user, cid))
      if (!bytes) return undefined
      const stored = inboxStores.lists.values.deserialize(bytes)
      return { ...stored, unreadIds: unreadIds.unpackUnreadIds(stored.unreadIds) }
    }
    await pipe({ kind: 'MembershipChanged', conversationId: 'c', member: true }, ['ann', 'ben'])
    expect(await row('ben')).toEqual({ unread: 0, unreadIds: [], last: null })
    for (const id of ['1', '2', '3'])
      await pipe({ kind: 'NewMessage', message: message(id, 'NORMAL') }, ['ann', 'ben'])
    expect(await row('ben')).toMatchObject({
      unread: 3,
      unreadIds: ['1', '2', '3'],
      last: { msgId: '3' },
    })
    expect(await row('ann')).toMatchObject({ unread: 0, last: { msgId: '3' } }) // her own messages
    await pipe({ kind: 'ConversationRead', conversationId: 'c', upToMsgId: '2' }, ['ben'])
    expect(await row('ben')).toMatchObject({ unread: 1, unreadIds: ['3'] })

    // A large group: the membership row once, then nothing per message.
    await pipe({ kind: 'MembershipChanged', conversationId: 'big', member: true }, ['ben'])
    driver.read('test-inbox-conversation-list-changelog')
    const big = { ...message('4', 'NORMAL'), conversationId: 'big' }
    await pipe({ kind: 'NewMessage', message: big }, ['ann', 'ben'], false)
    expect(driver.read('test-inbox-conversation-list-changelog')).toEqual([])
    await pipe({ kind: 'MembershipChanged', conversationId: 'c', member: false }, ['ben'])
    expect(await row('ben')).toBeUndefined()
  })
})

describe('markRead', () => {
  it('counts exactly within the kept ids, and keeps older unread beyond them', () => {
    const row = {
      unread: 150,
      unreadIds: unreadIds.packUnreadIds(Array.from({ length: 100 }, (_, i) => String(1_000 + i))),
      last: null,
    }
    expect(markRead(row, '1049').unread).toBe(50) // read into the kept window: exact
    expect(unreadIds.unpackUnreadIds(markRead(row, '1049').unreadIds)[0]).toBe('1050')
    expect(markRead(row, '999').unread).toBe(150) // before the window: nothing known to be read
    expect(markRead(row, '2000').unread).toBe(0)
    // Not a message id: nothing is read (a read receipt's id is not checked where it is taken).
    expect(markRead(row, 'abc')).toBe(row)
  })
})
