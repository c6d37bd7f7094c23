// Reads of the receiver's committed state for the API: membership, and the conversation's
// log of normal messages, newest first.

import type { StoredMessage } from '../../schemas/types.generated.js'
import { newestFirst } from '../../state/index.js'
import {
  type ConversationLog,
  conversationPrefix,
  decodeStoredMessage,
  memberKey,
  type Positioned,
  RECEIVER_STORES as STORES,
  seqIndexKey,
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

  async sequence(
    conversationId: string,
  ): Promise<{ memberCount: number; seq: number } | undefined> {
    const meta = await this.conversation(conversationId)
    return meta && { memberCount: meta.memberCount, seq: meta.seq ?? 0 }
  }

  /**
   * A large group's messages with seq > after, oldest first, at most `limit`: the gap a
   * device pulls when it missed pushes.
   */
  async messagesAfter(
    conversationId: string,
    after: number,
    limit: number,
  ): Promise<StoredMessage[]> {
    const index = this.receiver.committedStoreForKey(conversationId, STORES.seqIndex)
    const log = this.receiver.committedStoreForKey(conversationId, STORES.messages)
    const found: StoredMessage[] = []
    const range = {
      gte: seqIndexKey(conversationId, after + 1),
      lt: seqIndexKey(conversationId, Number.MAX_SAFE_INTEGER),
    }
    for await (const [, position] of index.range(range)) {
      const bytes = await log.get(position)
      if (bytes) found.push(decodeStoredMessage(bytes))
      if (found.length >= limit) break
    }
    return found
  }
}
