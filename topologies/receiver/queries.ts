// Reads of the receiver's committed state for the API: membership, the conversation, read
// cursors, and the conversation's log of normal messages, newest first. Each reads the task
// that owns the conversation, through the stores' declarations.

import { newestFirst } from '../../state/index.js'
import {
  type ConversationLog,
  type ConversationMeta,
  conversationPrefix,
  memberKey,
  type Positioned,
  receiverStores,
} from '../model/index.js'
import { queryStore, type RunningTopology } from '../runtime/index.js'

export class ReceiverQueries implements ConversationLog {
  constructor(private readonly receiver: RunningTopology) {}

  async isMember(conversationId: string, userId: string): Promise<boolean> {
    const members = queryStore(this.receiver, receiverStores.members, conversationId)
    return (await members.get(memberKey(conversationId, userId))) !== undefined
  }

  conversation(conversationId: string): Promise<ConversationMeta | undefined> {
    return queryStore(this.receiver, receiverStores.conversations, conversationId).get(
      conversationId,
    )
  }

  /** The newest msgId the user has read in the conversation, if any. */
  readCursor(conversationId: string, userId: string): Promise<string | undefined> {
    return queryStore(this.receiver, receiverStores.readCursors, conversationId).get(
      memberKey(conversationId, userId),
    )
  }

  /** The conversation's log (normal messages), newest first, before `position`. */
  async *log(conversationId: string, before?: Buffer): AsyncGenerator<Positioned> {
    const { messages } = receiverStores
    const log = this.receiver.committedStoreForKey(conversationId, messages.name)
    const prefix = conversationPrefix(conversationId)
    for await (const { position, value } of newestFirst(log, prefix, before)) {
      yield { position, message: messages.values.deserialize(value) }
    }
  }
}
