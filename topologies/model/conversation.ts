// What the receiver keeps of a conversation and of a send, and what the API reads back.

import type { ConversationType } from '../../schemas/types.generated.js'

export interface ConversationMeta {
  type: ConversationType
  muted: boolean
  unit: string
  memberCount: number
  /** A large group's newest message seq (absent until its first sequenced message). */
  seq?: number
}

export type Role = 'member' | 'admin'

/** The answer a (sender, clientMsgId) got once, given again to a retry. */
export interface DedupeEntry {
  msgId: string
  createdAt: number
}
