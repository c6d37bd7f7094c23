// A user whose home geo or unit changes takes their private messages (P) and deletions for
// themself (NP) along with their list rows: history through their new home merges them, as
// it did through the old one, and nothing of theirs stays behind. They go to the new home's
// inbound packed per conversation (FanoutBatch.movedEntries, at most PACK_MAX_CHARS of JSON a
// record) and marked movedFrom, which the new home's inbox applies like the hand-offs they
// came as and its sync never sequences: it is history the user's devices had, not news
// (pushing or notifying it again would announce old messages as new). Packed, because a record
// costs the old home, the broker and the new home far more than its bytes: a user with
// thousands of private messages moves in a few records, not thousands.

import type { FanoutBatch, MovedEntries, StoredMessage } from '../../schemas/types.generated.js'
import { deletedKeyParts, userPrefix } from '../model/index.js'
import type { KeyValueStore } from '../runtime/index.js'

/**
 * JSON of entries one packed record carries at most: far below Kafka's 1 MB record (the Avro
 * encoding is smaller still), and a few hundred private messages per record instead of one.
 */
export const PACK_MAX_CHARS = 256 * 1024

/** One pack of the user's entries in one conversation, for the new home's inbox (no list change). */
export function movedEntriesBatch(
  userId: string,
  conversationId: string,
  entries: MovedEntries,
  from: string,
): FanoutBatch {
  const first = entries.privateMessages[0]?.msgId ?? entries.deletedMsgIds[0] ?? ''
  const kind = entries.privateMessages.length > 0 ? 'private' : 'deleted'
  return {
    partition: -1,
    recipients: [userId],
    sourceId: `moved:${userId}:${kind}:${conversationId}:${first}`,
    // What an inbox that does not know movedEntries applies: nothing (it only refreshes devices,
    // and sync never sequences a movedFrom hand-off).
    event: {
      priority: 'LOW',
      payload: { kind: 'ConversationChanged', conversationId, description: 'moved' },
    },
    updateLists: false,
    movedFrom: from,
    movedEntries: entries,
  }
}

/** Items of one conversation, in order, in packs of at most PACK_MAX_CHARS of JSON. */
class Packer<T> {
  private current: { conversationId: string; items: T[]; keys: Buffer[]; chars: number } | undefined

  constructor(private readonly pack: (conversationId: string, items: T[]) => MovedEntries) {}

  /** Adds an item; answers the pack it closed, if any (another conversation, or full). */
  add(conversationId: string, item: T, key: Buffer): Packed | undefined {
    const size = JSON.stringify(item).length + 1
    const c = this.current
    const closed =
      c && (c.conversationId !== conversationId || c.chars + size > PACK_MAX_CHARS)
        ? this.flush()
        : undefined
    this.current ??= { conversationId, items: [], keys: [], chars: 0 }
    this.current.items.push(item)
    this.current.keys.push(key)
    this.current.chars += size
    return closed
  }

  flush(): Packed | undefined {
    const c = this.current
    this.current = undefined
    if (!c) return undefined
    return {
      conversationId: c.conversationId,
      entries: this.pack(c.conversationId, c.items),
      keys: c.keys,
    }
  }
}

interface Packed {
  conversationId: string
  entries: MovedEntries
  /** The store keys of what it carries, deleted here once it is sent. */
  keys: Buffer[]
}

/**
 * Every private message and deletion the inbox keeps for the user, as packed hand-offs keyed
 * by their conversation (after its moved row on the same key, so in order there), each pack's
 * entries deleted here through `remove`: the caller sends and removes them in one transaction.
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
  const out = (p: Packed | undefined, store: { delete(key: Buffer): void }) =>
    p === undefined
      ? []
      : [
          {
            key: p.conversationId,
            batch: movedEntriesBatch(userId, p.conversationId, p.entries, from),
            remove: () => {
              for (const k of p.keys) store.delete(k)
            },
          },
        ]
  // Keys sort by conversation, then creation time: each conversation's entries come together.
  const messages = new Packer<StoredMessage>((_, privateMessages) => ({
    privateMessages,
    deletedMsgIds: [],
  }))
  for await (const [k, m] of stores.inbox.prefix(prefix))
    yield* out(messages.add(m.conversationId, m, k), stores.inbox)
  yield* out(messages.flush(), stores.inbox)
  const deletions = new Packer<string>((_, deletedMsgIds) => ({
    privateMessages: [],
    deletedMsgIds,
  }))
  for await (const [k] of stores.deleted.prefix(prefix)) {
    const { conversationId, msgId } = deletedKeyParts(userId, k)
    yield* out(deletions.add(conversationId, msgId, k), stores.deleted)
  }
  yield* out(deletions.flush(), stores.deleted)
}
