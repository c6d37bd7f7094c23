// A conversation-list row's own rules: a message's summary as the row shows it, and what a
// read receipt leaves unread.

import type { StoredMessage } from '../../schemas/types.generated.js'
import { type ListRow, type MessageSummary, unreadIds } from '../model/index.js'

export function summarize(m: StoredMessage): MessageSummary {
  return {
    msgId: m.msgId,
    senderId: m.senderId,
    type: m.type,
    preview: m.body.slice(0, 100),
    createdAt: m.createdAt,
  }
}

/** A read up to `upTo`: the unread ids it covers leave the count (not a message id: none). */
export function markRead(row: ListRow, upTo: string): ListRow {
  const upToId = unreadIds.msgIdBytes(upTo)
  if (!upToId) return row
  const remaining = unreadIds.unreadIdsAfter(row.unreadIds, upToId)
  const oldestKept = unreadIds.oldestUnreadId(row.unreadIds)
  // Unread messages older than the ids kept are covered by this read only if it reaches past them.
  const beyondKept = row.unread - unreadIds.unreadIdCount(row.unreadIds)
  const stillBeyond =
    oldestKept !== undefined && Buffer.compare(upToId, oldestKept) < 0 ? beyondKept : 0
  return {
    ...row,
    unread: unreadIds.unreadIdCount(remaining) + stillBeyond,
    unreadIds: remaining,
  }
}
