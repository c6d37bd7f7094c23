// A user whose home geo or unit changes takes their private messages (P) and deletions for
// themself (NP) along with their list rows: history through their new home merges them, as
// it did through the old one, and nothing of theirs stays behind. Each goes to the new home's
// inbound as a hand-off marked movedFrom, which the new home's inbox applies like any other
// and its sync never sequences: it is history the user's devices had, not news (pushing or
// notifying it again would announce old messages as new).

import type { FanoutBatch, StoredMessage } from '../../schemas/types.generated.js'
import { deletedKeyParts, userPrefix } from '../model/index.js'
import type { KeyValueStore } from '../runtime/index.js'

/** One of the user's private messages, for the new home's inbox (no list change). */
export function movedPrivateBatch(userId: string, m: StoredMessage, from: string): FanoutBatch {
  return {
    partition: -1,
    recipients: [userId],
    sourceId: `moved:${userId}:private:${m.msgId}`,
    event: { priority: 'LOW', payload: { kind: 'NewMessage', message: m } },
    updateLists: false,
    movedFrom: from,
  }
}

/** One of the user's deletions for themself, for the new home's inbox. */
export function movedDeletionBatch(
  userId: string,
  conversationId: string,
  msgId: string,
  from: string,
): FanoutBatch {
  return {
    partition: -1,
    recipients: [userId],
    sourceId: `moved:${userId}:deleted:${msgId}`,
    event: { priority: 'LOW', payload: { kind: 'MessageDeleted', conversationId, msgId } },
    updateLists: false,
    movedFrom: from,
  }
}

/**
 * Every private message and deletion the inbox keeps for the user, as hand-offs keyed by their
 * conversation (after its moved row on the same key, so in order there), each deleted here
 * through `remove` as it is listed: the caller sends and removes them in one transaction.
 */
export async function* movedEntries(
  userId: string,
  stores: {
    inbox: KeyValueStore<Buffer, StoredMessage>
    deleted: KeyValueStore<Buffer, Buffer>
  },
  from: string,
): AsyncGenerator<{ key: string; batch: FanoutBatch; remove: () => void }> {
  const prefix = userPrefix(userId)
  for await (const [k, m] of stores.inbox.prefix(prefix)) {
    yield {
      key: m.conversationId,
      batch: movedPrivateBatch(userId, m, from),
      remove: () => stores.inbox.delete(k),
    }
  }
  for await (const [k] of stores.deleted.prefix(prefix)) {
    const { conversationId, msgId } = deletedKeyParts(userId, k)
    yield {
      key: conversationId,
      batch: movedDeletionBatch(userId, conversationId, msgId, from),
      remove: () => stores.deleted.delete(k),
    }
  }
}
