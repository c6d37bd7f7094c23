// Reads of the receiver's committed state for the API: membership, and the conversation's
// log of normal messages, newest first.

import { compareMsgIds } from '../../schemas/msg-id.js'
import type { StoredMessage } from '../../schemas/types.generated.js'
import { newestFirst } from '../../state/index.js'
import type { RunningTopology } from '../runtime/index.js'
import { type ConversationMeta, memberKey } from './conversation-state.js'
import { decodeStoredMessage, STORES } from './receiver.js'

export class ReceiverQueries {
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

  /**
   * A large group's list entry, computed on read: its newest message, and how many of its
   * messages are newer than the user's read cursor (counted up to `cap`).
   */
  async listEntry(
    conversationId: string,
    userId: string,
    cap: number,
  ): Promise<{ unread: number; last: StoredMessage | null }> {
    const cursors = this.receiver.committedStoreForKey(conversationId, STORES.readCursors)
    const cursor = (await cursors.get(memberKey(conversationId, userId)))?.toString()
    let unread = 0
    let last: StoredMessage | null = null
    for await (const { message } of this.log(conversationId)) {
      last ??= message
      if ((cursor && compareMsgIds(message.msgId, cursor) <= 0) || unread >= cap) break
      if (message.senderId !== userId) unread++
    }
    return { unread, last }
  }

  /** The conversation's log (normal messages), newest first, before `position`. */
  async *log(
    conversationId: string,
    before?: Buffer,
  ): AsyncGenerator<{ position: Buffer; message: StoredMessage }> {
    const prefix = Buffer.concat([Buffer.from(conversationId), Buffer.from([0])])
    const log = this.receiver.committedStoreForKey(conversationId, STORES.messages)
    for await (const { position, value } of newestFirst(log, prefix, before)) {
      yield { position, message: decodeStoredMessage(value) }
    }
  }
}
