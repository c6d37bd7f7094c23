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

// The API's answers, as the routes declare them (connectors/protocol/api-responses.ts).
export type {
  CatchUpPage,
  ConversationListEntry,
  HistoryMessage,
  MessageSummary,
} from '../protocol/api-responses.js'

import type { MessageSummary } from '../protocol/api-responses.js'

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
