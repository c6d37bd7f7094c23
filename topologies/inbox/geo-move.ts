// Moving a user's home geo or unit (PUT /v1/users/:uid {geo, unit}): their conversation-list
// rows, unread state included, leave with them. The inbox reads im.users (co-partitioned with its hand-off:
// both keyed by user); when a user it holds rows for is now homed in another configured geo,
// each row goes to that geo's inbound, in the task's transaction, and is deleted here — and
// whatever still reaches this inbox for that user (senders' receivers switch in their own time)
// is sent after it instead of applied. The new geo merges a moved row into the one it may have
// started meanwhile, so nothing is counted twice or left behind.

import type { FanoutBatch, MovedListRow } from '../../schemas/types.generated.js'
import { declareStore, jsonSerde, stringSerde } from '../../state/index.js'
import { type ListRow, unreadIds } from '../model/index.js'
import type { UserHome } from '../receiver/index.js'

/** uid -> the geo or unit a user moved to, while they are homed elsewhere. */
export const movedUsers = declareStore('moved-users', stringSerde, jsonSerde<UserHome>())

export function toMovedRow(row: ListRow): MovedListRow {
  const last = row.last
  return {
    unread: row.unread,
    unreadIds: unreadIds.unpackUnreadIds(row.unreadIds),
    lastMsgId: last?.msgId ?? null,
    lastSenderId: last?.senderId ?? '',
    lastType: last?.type ?? 'TEXT',
    lastPreview: last?.preview ?? '',
    lastCreatedAt: last?.createdAt ?? 0,
    lastDeleted: row.lastDeleted ?? false,
  }
}

export function fromMovedRow(m: MovedListRow): ListRow {
  return {
    unread: m.unread,
    unreadIds: unreadIds.packUnreadIds(m.unreadIds),
    last:
      m.lastMsgId === null || m.lastMsgId === undefined
        ? null
        : {
            msgId: m.lastMsgId,
            senderId: m.lastSenderId,
            type: m.lastType,
            preview: m.lastPreview,
            createdAt: m.lastCreatedAt,
          },
    ...(m.lastDeleted ? { lastDeleted: true } : {}),
  }
}

/**
 * A moved row over the row the new geo started since the move (from messages sent after it):
 * the unread counts add up (each message reached one geo only), the newer last message wins.
 */
export function mergeRows(here: ListRow | undefined, moved: ListRow): ListRow {
  if (!here) return moved
  const newer = (here.last?.createdAt ?? -1) >= (moved.last?.createdAt ?? -1) ? here : moved
  return {
    unread: here.unread + moved.unread,
    unreadIds: unreadIds.mergeUnreadIds(moved.unreadIds, here.unreadIds),
    last: newer.last,
    ...(newer.lastDeleted ? { lastDeleted: true } : {}),
  }
}

/** The hand-off record that carries one moved row to the new geo (its inbound splits it). */
export function movedRowBatch(
  userId: string,
  conversationId: string,
  row: ListRow,
  sourceId: string,
): FanoutBatch {
  return {
    partition: -1,
    recipients: [userId],
    sourceId,
    // The new geo's devices learn the conversation as they would a join.
    event: {
      priority: 'LOW',
      payload: { kind: 'MembershipChanged', conversationId, member: true },
    },
    updateLists: true,
    movedRow: toMovedRow(row),
  }
}
