// Reads of the receiver's committed state for the API: membership, and the conversation's
// log of normal messages, newest first.

import { newestFirst } from '../../state/index.js'
import {
  type ConversationLog,
  conversationPrefix,
  decodeStoredMessage,
  memberKey,
  type Positioned,
  RECEIVER_STORES as STORES,
} from '../model/index.js'
import type { RunningTopology } from '../runtime/index.js'
import type { ConversationMeta } from './conversation-state.js'

export class ReceiverQueries implements ConversationLog {
  constructor(private readonly receiver: RunningTopology) {}

  async isMember(conversationId: string, userId: string): Promise<boolean> {
    const members = this.receiver.committedStoreForKey(conversationId, STORES.members)
    return (await members.get(memberKey(conversationId, userId))) !== undefined
  }

  async conversation(conversationId: string): Promise<ConversationMeta | undefined> {
    const store = this.receiver.committedStoreForKey(conversationId, STORES.conversations)
    const bytes = await store.get(Buffer.from(conversationId))
    return bytes === undefined ? undefined : (JSON.parse(bytes.toString()) as ConversationMeta)
  }

  /** The newest msgId the user has read in the conversation, if any. */
  async readCursor(conversationId: string, userId: string): Promise<string | undefined> {
    const cursors = this.receiver.committedStoreForKey(conversationId, STORES.readCursors)
    return (await cursors.get(memberKey(conversationId, userId)))?.toString()
  }

  /** The conversation's log (normal messages), newest first, before `position`. */
  async *log(conversationId: string, before?: Buffer): AsyncGenerator<Positioned> {
    const prefix = conversationPrefix(conversationId)
    const log = this.receiver.committedStoreForKey(conversationId, STORES.messages)
    for await (const { position, value } of newestFirst(log, prefix, before)) {
      yield { position, message: decodeStoredMessage(value) }
    }
  }
}
