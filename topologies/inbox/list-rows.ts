// A conversation-list row's own rules: a message's summary as the row shows it, and what a
// read receipt leaves unread.

import { compareMsgIds } from '../../schemas/msg-id.js'
import type { StoredMessage } from '../../schemas/types.generated.js'
import type { ListRow, MessageSummary } from '../model/index.js'

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
