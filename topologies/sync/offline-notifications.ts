// Offline notifications for third-party push services: a user with no device online gets
// one notification per window, carrying how many messages arrived and from where, instead
// of one per message.

import type { Notification, StoredMessage } from '../../schemas/types.generated.js'

export interface PendingNotification {
  count: number
  conversationIds: string[]
  lastMsgId: string
  preview: string
  /** When the window opened (its first message). */
  firstAt: number
}

/** Conversations named in one notification at most (the count covers the rest). */
const MAX_CONVERSATIONS = 20
const PREVIEW_CHARS = 100

export function coalesce(
  pending: PendingNotification | undefined,
  message: StoredMessage,
  now: number,
): PendingNotification {
  const conversationIds = pending?.conversationIds ?? []
  return {
    count: (pending?.count ?? 0) + 1,
    conversationIds:
      conversationIds.includes(message.conversationId) ||
      conversationIds.length >= MAX_CONVERSATIONS
        ? conversationIds
        : [...conversationIds, message.conversationId],
    lastMsgId: message.msgId,
    preview: `${message.senderId}: ${message.type === 'TEXT' ? message.body.slice(0, PREVIEW_CHARS) : `[${message.type.toLowerCase()}]`}`,
    firstAt: pending?.firstAt ?? now,
  }
}

export function notificationFor(
  userId: string,
  pending: PendingNotification,
  now: number,
): Notification {
  return {
    userId,
    count: pending.count,
    conversationIds: pending.conversationIds,
    lastMsgId: pending.lastMsgId,
    preview: pending.preview,
    createdAt: now,
  }
}
