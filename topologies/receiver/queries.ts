// Reads of the receiver's committed state for the API: membership, the conversation, read
// cursors, and the conversation's log of normal messages, newest first. Each reads the task
// that owns the conversation, through the stores' declarations.

import type { StoredMessage } from '../../schemas/types.generated.js'
import { newestFirst } from '../../state/index.js'
import {
  type ConversationLog,
  type ConversationMeta,
  conversationPrefix,
  isLargeGroup,
  memberKey,
  type Positioned,
  receiverStores,
  seqIndexKey,
} from '../model/index.js'
import { queryStore, type RunningTopology } from '../runtime/index.js'

export class ReceiverQueries implements ConversationLog {
  constructor(private readonly receiver: RunningTopology) {}

  async isMember(conversationId: string, userId: string): Promise<boolean> {
    const members = queryStore(this.receiver, receiverStores.members, conversationId)
    return (await members.get(memberKey(conversationId, userId))) !== undefined
  }

  /** A large group's head (its newest seq) if the user is a member of it now. */
  async largeGroupHead(
    conversationId: string,
    userId: string,
    threshold: number,
  ): Promise<{ conversationId: string; seq: number } | undefined> {
    const meta = await this.conversation(conversationId)
    if (!meta || !isLargeGroup(meta.memberCount, threshold)) return undefined
    if (!(await this.isMember(conversationId, userId))) return undefined
    return { conversationId, seq: meta.seq ?? 0 }
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
    const { seqIndex, messages } = receiverStores
    const index = this.receiver.committedStoreForKey(conversationId, seqIndex.name)
    const log = queryStore(this.receiver, messages, conversationId)
    const found: StoredMessage[] = []
    const range = {
      gte: seqIndexKey(conversationId, after + 1),
      lt: seqIndexKey(conversationId, Number.MAX_SAFE_INTEGER),
    }
    for await (const [, position] of index.range(range)) {
      const message = await log.get(position)
      if (message) found.push(message)
      if (found.length >= limit) break
    }
    return found
  }
}
