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
import { keyAfter, prefixEnd } from '../../state/index.js'
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
  /** JSON chars of every item added. */
  chars = 0
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
    this.chars += size
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

/** The user's entries a chunk takes: private messages, or deletions for themself. */
export type EntryKind = 'private' | 'deleted'

/** A chunk of a moving user's entries: packs to send, and where the next chunk starts. */
export interface EntriesChunk {
  /** Each keyed by its conversation (behind that conversation's row); `remove` deletes its entries here. */
  packs: { key: string; batch: FanoutBatch; remove: () => void }[]
  /** The last store key taken; undefined when none was. */
  last: Buffer | undefined
  /** JSON chars taken. */
  chars: number
  /** No entry of this kind is left after `last`. */
  done: boolean
}

/**
 * The user's private messages or deletions after `after`, packed per conversation, about
 * `budget` chars of JSON (at least one entry, so every chunk moves on): the caller sends and
 * removes them in one transaction.
 */
export async function movedEntries(
  userId: string,
  kind: EntryKind,
  stores: {
    inbox: KeyValueStore<Buffer, StoredMessage>
    deleted: KeyValueStore<Buffer, Buffer>
  },
  from: string,
  after: Buffer | undefined,
  budget: number,
): Promise<EntriesChunk> {
  const chunk: EntriesChunk = { packs: [], last: undefined, chars: 0, done: true }
  const prefix = userPrefix(userId)
  const start = after ? keyAfter(after) : prefix
  // Keys sort by conversation, then creation time: each conversation's entries come together.
  async function take<V, T>(
    store: KeyValueStore<Buffer, V>,
    packer: Packer<T>,
    item: (key: Buffer, value: V) => { conversationId: string; item: T },
  ) {
    const close = (p: Packed | undefined) => {
      if (p === undefined) return
      chunk.packs.push({
        key: p.conversationId,
        batch: movedEntriesBatch(userId, p.conversationId, p.entries, from),
        remove: () => {
          for (const k of p.keys) store.delete(k)
        },
      })
    }
    for await (const [key, value] of store.range(start, prefixEnd(prefix))) {
      if (packer.chars >= budget) {
        chunk.done = false
        break
      }
      const { conversationId, item: it } = item(key, value)
      close(packer.add(conversationId, it, key))
      chunk.last = key
    }
    close(packer.flush())
    chunk.chars = packer.chars
  }
  if (kind === 'private') {
    const packer = new Packer<StoredMessage>((_, privateMessages) => ({
      privateMessages,
      deletedMsgIds: [],
    }))
    await take(stores.inbox, packer, (_, m) => ({ conversationId: m.conversationId, item: m }))
  } else {
    const packer = new Packer<string>((_, deletedMsgIds) => ({
      privateMessages: [],
      deletedMsgIds,
    }))
    await take(stores.deleted, packer, (key) => {
      const { conversationId, msgId } = deletedKeyParts(userId, key)
      return { conversationId, item: msgId }
    })
  }
  return chunk
}
