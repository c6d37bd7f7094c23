// A row of a user's conversation list, as the inbox keeps it and the API shows it.

import type { StoredMessage } from '../../schemas/types.generated.js'

export interface MessageSummary {
  msgId: string
  senderId: string
  type: StoredMessage['type']
  /** The first 100 characters of the body. */
  preview: string
  createdAt: number
}

export interface ListRow {
  unread: number
  /**
   * The newest unread msgIds (at most UNREAD_IDS_KEPT), packed (unread-ids.ts), so a read
   * receipt up to any of them counts exactly.
   */
  unreadIds: Buffer
  last: MessageSummary | null
  /** The last message was deleted for this user: the next one is found when the list is read. */
  lastDeleted?: boolean
}
