// What reading a conversation needs from the conversation-keyed side, as an interface: the
// inbox's history merges the conversation log with a user's private messages without
// importing the receiver (the receiver's queries implement it).

import type { StoredMessage } from '../../schemas/types.generated.js'

/** A message and its position in a log (`messagePosition`), comparable across logs. */
export interface Positioned {
  position: Buffer
  message: StoredMessage
}

export interface ConversationLog {
  /** The conversation's normal messages, newest first, before `before`. */
  log(conversationId: string, before?: Buffer): AsyncIterable<Positioned>
  /** The newest msgId the user has read in the conversation, if any. */
  readCursor(conversationId: string, userId: string): Promise<string | undefined>
  /** Its size and (large groups) newest seq; undefined where no task here serves it. */
  sequence(conversationId: string): Promise<{ memberCount: number; seq: number } | undefined>
  /** A large group's messages with seq > after, oldest first, at most `limit`. */
  messagesAfter(conversationId: string, after: number, limit: number): Promise<StoredMessage[]>
}
