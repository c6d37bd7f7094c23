// Reads of the inbox's committed state for the API: a user's private messages in a
// conversation (newest first) and their delete-for-me markers.

import { newestFirst, prefixEnd } from '../../state/index.js'
import {
  decodeStoredMessage,
  deletedKey,
  INBOX_STORES,
  inboxPrefix,
  type Positioned,
  userPrefix,
} from '../model/index.js'
import type { RunningTopology } from '../runtime/index.js'
import type { ListRow } from './inbox.js'

export class InboxQueries {
  constructor(private readonly inbox: RunningTopology) {}

  /** The user's private messages in the conversation, newest first, before `position`. */
  async *privateMessages(
    userId: string,
    conversationId: string,
    before?: Buffer,
  ): AsyncGenerator<Positioned> {
    const store = this.inbox.committedStoreForKey(userId, INBOX_STORES.inbox)
    for await (const { position, value } of newestFirst(
      store,
      inboxPrefix(userId, conversationId),
      before,
    )) {
      yield { position, message: decodeStoredMessage(value) }
    }
  }

  /** The user's conversation list rows (large groups' rows hold only the membership). */
  async *conversations(userId: string): AsyncGenerator<{ conversationId: string; row: ListRow }> {
    const store = this.inbox.committedStoreForKey(userId, INBOX_STORES.lists)
    const prefix = userPrefix(userId)
    const end = prefixEnd(prefix)
    for await (const [key, value] of store.range({ gte: prefix, ...(end ? { lt: end } : {}) })) {
      yield {
        conversationId: key.subarray(prefix.length).toString(),
        row: JSON.parse(value.toString()) as ListRow,
      }
    }
  }

  async deletedForMe(userId: string, conversationId: string, msgId: string): Promise<boolean> {
    const store = this.inbox.committedStoreForKey(userId, INBOX_STORES.deleted)
    return (await store.get(deletedKey(userId, conversationId, msgId))) !== undefined
  }
}
