// What a hand-off batch does to its recipients' inbox state: list rows (joined, left, read,
// a new message in a small group, a moved row merged), private messages (P) and deletions for
// themselves (NP), one by one or packed when a user's home moved. Over the inbox task's stores; nothing else.

import type { FanoutBatch, StoredMessage } from '../../schemas/types.generated.js'
import { deletedKey, inboxKey, type ListRow, listKey, unreadIds } from '../model/index.js'
import type { KeyValueStore } from '../runtime/index.js'
import { fromMovedRow, mergeRows } from './geo-move.js'
import { markRead, summarize } from './list-rows.js'

/** The inbox task's stores (model/stores.ts, inboxStores), typed. */
export interface InboxStores {
  inbox: KeyValueStore<Buffer, StoredMessage>
  deleted: KeyValueStore<Buffer, Buffer>
  lists: KeyValueStore<Buffer, ListRow>
}

const empty = (): ListRow => ({ unread: 0, unreadIds: unreadIds.NO_UNREAD_IDS, last: null })

/** The list rows applyBatch() reads, read ahead for a slice's hand-offs at once. */
export function prefetchRows(stores: InboxStores, batches: readonly FanoutBatch[]): Promise<void> {
  const keys = batches.flatMap((batch) => {
    const conversationId = conversationOf(batch)
    return conversationId === undefined
      ? []
      : batch.recipients.map((u) => listKey(u, conversationId))
  })
  return stores.lists.prefetch(keys)
}

/** The conversation whose list rows a hand-off reads or writes; undefined if none. */
export function conversationOf(batch: FanoutBatch): string | undefined {
  const { payload } = batch.event
  if (payload.kind === 'NewMessage')
    return batch.updateLists ? payload.message.conversationId : undefined
  return 'conversationId' in payload ? payload.conversationId : undefined
}

export async function applyBatch(stores: InboxStores, batch: FanoutBatch): Promise<void> {
  const { lists } = stores
  const payload = batch.event.payload
  if (batch.movedEntries) {
    // A moved user's private messages or deletions, packed (moved-entries.ts): each applied as
    // the hand-off it came here as once would be.
    const { privateMessages, deletedMsgIds } = batch.movedEntries
    for (const m of privateMessages) await newMessage(stores, batch, m)
    const conversationId = 'conversationId' in payload ? payload.conversationId : ''
    for (const msgId of deletedMsgIds)
      await deletedForMe(stores, batch.recipients, conversationId, msgId)
  } else if (batch.movedRow && payload.kind === 'MembershipChanged') {
    const moved = fromMovedRow(batch.movedRow)
    for (const userId of batch.recipients) {
      const key = listKey(userId, payload.conversationId)
      lists.put(key, mergeRows(await lists.get(key), moved))
    }
  } else if (payload.kind === 'MembershipChanged') {
    for (const userId of batch.recipients) {
      const key = listKey(userId, payload.conversationId)
      if (!payload.member) lists.delete(key)
      else if (!(await lists.get(key))) lists.put(key, empty())
    }
  } else if (payload.kind === 'ConversationRead') {
    const key = listKey(batch.recipients[0] ?? '', payload.conversationId)
    const row = await lists.get(key)
    if (row) lists.put(key, markRead(row, payload.upToMsgId))
  } else if (payload.kind === 'NewMessage') {
    await newMessage(stores, batch, payload.message)
  } else if (payload.kind === 'MessageDeleted') {
    await deletedForMe(stores, batch.recipients, payload.conversationId, payload.msgId)
  }
}

async function newMessage(
  { inbox, lists }: InboxStores,
  batch: FanoutBatch,
  m: StoredMessage,
): Promise<void> {
  if (batch.updateLists) {
    // Small group: each recipient's row changes now (large groups compute on read).
    const id = unreadIds.msgIdBytes(m.msgId)
    for (const userId of batch.recipients) {
      const key = listKey(userId, m.conversationId)
      const row = (await lists.get(key)) ?? empty()
      // One's own messages are never unread (and an id is always one: the receiver made it).
      const unread = userId !== m.senderId && id !== undefined
      lists.put(key, {
        unread: unread ? row.unread + 1 : row.unread,
        unreadIds: unread ? unreadIds.withUnreadId(row.unreadIds, id) : row.unreadIds,
        last: summarize(m),
      })
    }
  }
  if (m.visibility === 'PRIVATE') {
    for (const userId of batch.recipients) {
      inbox.put(inboxKey(userId, m.conversationId, m.createdAt, m.msgId), m)
    }
  }
}

async function deletedForMe(
  { deleted, lists }: InboxStores,
  recipients: readonly string[],
  conversationId: string,
  msgId: string,
): Promise<void> {
  const id = unreadIds.msgIdBytes(msgId)
  for (const userId of recipients) {
    deleted.put(deletedKey(userId, conversationId, msgId), Buffer.from([1]))
    // Deleting an unread message takes it out of the count; deleting the last one leaves the
    // row to find its new last message when read.
    const key = listKey(userId, conversationId)
    const row = await lists.get(key)
    if (!row) continue
    const wasUnread = id !== undefined && unreadIds.holdsUnreadId(row.unreadIds, id)
    lists.put(key, {
      unread: wasUnread ? row.unread - 1 : row.unread,
      unreadIds: wasUnread ? unreadIds.withoutUnreadId(row.unreadIds, id) : row.unreadIds,
      last: row.last?.msgId === msgId ? null : row.last,
      ...(row.last?.msgId === msgId || row.lastDeleted ? { lastDeleted: true } : {}),
    })
  }
}
