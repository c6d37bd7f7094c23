// The inbox (user-keyed): the write-diffusion side of the hybrid storage model. It keeps,
// per user, the private messages (P) they may see, their per-user state changes of normal
// messages (NP: deleted for me), and their conversation list: unread count and last message,
// updated at send time for small groups only. Normal messages (N) are not copied here.

import type { EventCodec } from '../../schemas/codec.js'
import { compareMsgIds } from '../../schemas/msg-id.js'
import type { FanoutBatch, StoredMessage } from '../../schemas/types.generated.js'
import {
  deletedKey,
  inboxKey,
  inboxStores,
  type ListRow,
  listKey,
  type MessageSummary,
} from '../model/index.js'
import { defineTopology, openStore, type TopologyDefinition } from '../runtime/index.js'

const UNREAD_IDS_KEPT = 100

export function summarize(m: StoredMessage): MessageSummary {
  return {
    msgId: m.msgId,
    senderId: m.senderId,
    type: m.type,
    preview: m.body.slice(0, 100),
    createdAt: m.createdAt,
  }
}

/** A read up to `upTo`: the unread ids it covers leave the count. */
export function markRead(row: ListRow, upTo: string): ListRow {
  const remaining = row.unreadIds.filter((id) => compareMsgIds(id, upTo) > 0)
  const oldestKept = row.unreadIds[0]
  // Unread messages older than the ids kept are covered by this read only if it reaches past them.
  const beyondKept = row.unread - row.unreadIds.length
  const stillBeyond =
    oldestKept !== undefined && compareMsgIds(upTo, oldestKept) < 0 ? beyondKept : 0
  return { ...row, unread: remaining.length + stillBeyond, unreadIds: remaining }
}

export interface InboxOptions {
  fanout: string
  codec: EventCodec<FanoutBatch>
}

export function inboxTopology(options: InboxOptions): TopologyDefinition {
  return defineTopology({
    name: 'inbox',
    sources: [{ topic: options.fanout, decode: (b) => options.codec.decode(b) }],
    stores: Object.values(inboxStores),
    processor: (context) => {
      const inbox = openStore(context, inboxStores.inbox)
      const deleted = openStore(context, inboxStores.deleted)
      const lists = openStore(context, inboxStores.lists)
      const empty = (): ListRow => ({ unread: 0, unreadIds: [], last: null })
      return {
        async process(record) {
          const batch = record.value as FanoutBatch
          const payload = batch.event.payload
          if (payload.kind === 'MembershipChanged') {
            for (const userId of batch.recipients) {
              const key = listKey(userId, payload.conversationId)
              if (!payload.member) lists.delete(key)
              else if (!(await lists.get(key))) lists.put(key, empty())
            }
            return
          }
          if (payload.kind === 'ConversationRead') {
            const key = listKey(batch.recipients[0] ?? '', payload.conversationId)
            const row = await lists.get(key)
            if (row) lists.put(key, markRead(row, payload.upToMsgId))
            return
          }
          if (payload.kind === 'NewMessage' && batch.updateLists) {
            // Small group: each recipient's row changes now (large groups compute on read).
            const m = payload.message
            for (const userId of batch.recipients) {
              const key = listKey(userId, m.conversationId)
              const row = (await lists.get(key)) ?? empty()
              const mine = userId === m.senderId
              lists.put(key, {
                unread: mine ? row.unread : row.unread + 1,
                unreadIds: mine
                  ? row.unreadIds
                  : [...row.unreadIds, m.msgId].slice(-UNREAD_IDS_KEPT),
                last: summarize(m),
              })
            }
          }
          if (payload.kind === 'NewMessage' && payload.message.visibility === 'PRIVATE') {
            const m = payload.message
            for (const userId of batch.recipients) {
              inbox.put(inboxKey(userId, m.conversationId, m.createdAt, m.msgId), m)
            }
          } else if (payload.kind === 'MessageDeleted') {
            for (const userId of batch.recipients) {
              deleted.put(
                deletedKey(userId, payload.conversationId, payload.msgId),
                Buffer.from([1]),
              )
              // Deleting an unread message takes it out of the count; deleting the last one
              // leaves the row to find its new last message when read.
              const key = listKey(userId, payload.conversationId)
              const row = await lists.get(key)
              if (!row) continue
              const wasUnread = row.unreadIds.includes(payload.msgId)
              lists.put(key, {
                unread: wasUnread ? row.unread - 1 : row.unread,
                unreadIds: row.unreadIds.filter((id) => id !== payload.msgId),
                last: row.last?.msgId === payload.msgId ? null : row.last,
                ...(row.last?.msgId === payload.msgId || row.lastDeleted
                  ? { lastDeleted: true }
                  : {}),
              })
            }
          }
        },
      }
    },
  })
}
