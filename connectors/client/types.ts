// What the client library keeps and what the API answers, as plain JSON shapes.

import type {
  ConversationType,
  MessageType,
  Priority,
  Visibility,
} from '../../schemas/types.generated.js'

/** A message as the client holds it: from a push (NewMessage) or a history page. */
export interface ClientMessage {
  msgId: string
  conversationId: string
  senderId: string
  type: MessageType
  body: string
  /** Server time; a conversation's messages are ordered by it, then by msgId. */
  createdAt: number
  priority: Priority
  visibility: Visibility
  /** A large group's message: its seq in the conversation. */
  seq?: number
  /** From ReadStatus pushes: how many members have read it. */
  readCount?: number
  /** From ReactionSummary pushes: count per emoji. */
  reactions?: Record<string, number>
}

/** GET /v1/conversations: a conversation's last message. */
export interface MessageSummary {
  msgId: string
  senderId: string
  type: MessageType
  preview: string
  createdAt: number
}

/** GET /v1/conversations: one entry of the caller's list. */
export interface ConversationListEntry {
  conversationId: string
  /** Absent for a conversation homed in another geo (`remote`). */
  type?: ConversationType
  memberCount?: number
  muted?: boolean
  large: boolean
  /** Large groups: the newest message's seq (what a device catches up to). */
  seq?: number
  remote?: boolean
  unread: number
  last: MessageSummary | null
}

/** GET /v1/conversations/:cid/messages: one message of a history page. */
export interface HistoryMessage {
  msgId: string
  senderId: string
  type: MessageType
  body: string
  createdAt: number
  priority: Priority
  visibility: Visibility
  /** A large group's message: its seq in the conversation. */
  seq?: number
}

/** GET /v1/conversations/:cid/messages?after=: a large group's messages after a seq. */
export interface CatchUpPage {
  /** Oldest first. */
  messages: HistoryMessage[]
  headSeq: number
  /** The `after` of the next page; null when this one reaches headSeq. */
  next: number | null
  /** Too far behind: load the latest page instead, and continue from headSeq. */
  reload: boolean
}

/** A conversation as the client holds it. */
export interface ClientConversation {
  conversationId: string
  type?: ConversationType
  memberCount?: number
  muted?: boolean
  large?: boolean
  remote?: boolean
  unread: number
  last: MessageSummary | null
  /** False until its metadata came from GET /v1/conversations (it was first seen in a push). */
  described: boolean
}

/** POST /v1/messages. */
export interface OutgoingMessage {
  conversationId: string
  clientMsgId: string
  type?: MessageType
  body: string
  priority?: Priority
  visibility?: Visibility
  targets?: string[]
}
