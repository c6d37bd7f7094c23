// Reads of the inbox's committed state for the API: a user's private messages in a
// conversation (newest first), their conversation list and their delete-for-me markers. Each
// reads the task that owns the user, through the stores' declarations.

import { newestFirst } from '../../state/index.js'
import {
  deletedKey,
  inboxPrefix,
  inboxStores,
  type ListRow,
  listKey,
  type Positioned,
  userPrefix,
} from '../model/index.js'
import { queryStore, type RunningTopology } from '../runtime/index.js'

export class InboxQueries {
  constructor(private readonly inbox: RunningTopology) {}

  /** The user's private messages in the conversation, newest first, before `position`. */
  async *privateMessages(
    userId: string,
    conversationId: string,
    before?: Buffer,
  ): AsyncGenerator<Positioned> {
    const { inbox } = inboxStores
    const store = this.inbox.committedStoreForKey(userId, inbox.name)
    const prefix = inboxPrefix(userId, conversationId)
    for await (const { position, value } of newestFirst(store, prefix, before)) {
      yield { position, message: inbox.values.deserialize(value) }
    }
  }

  /** The user's conversation list rows (large groups' rows hold only the membership). */
  async *conversations(userId: string): AsyncGenerator<{ conversationId: string; row: ListRow }> {
    const prefix = userPrefix(userId)
    const lists = queryStore(this.inbox, inboxStores.lists, userId)
    for await (const [key, row] of lists.prefix(prefix)) {
      yield { conversationId: key.subarray(prefix.length).toString(), row }
    }
  }

  /** The user's list row for one conversation, if they have one. */
  listRow(userId: string, conversationId: string): Promise<ListRow | undefined> {
    return queryStore(this.inbox, inboxStores.lists, userId).get(listKey(userId, conversationId))
  }

  async deletedForMe(userId: string, conversationId: string, msgId: string): Promise<boolean> {
    const deleted = queryStore(this.inbox, inboxStores.deleted, userId)
    return (await deleted.get(deletedKey(userId, conversationId, msgId))) !== undefined
  }
}
