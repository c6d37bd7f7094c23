// Reactions as a set: one key per (message, emoji, user). Adding one that exists, or removing
// one that does not, changes nothing — so a retried or replayed ReactionChanged counts once,
// and a removal of a reaction never added cannot drive a count below zero. Counts per emoji
// are read off the set (a prefix scan per message) when a window closes or a query asks.

import type { ReadWriteStore } from '../../state/index.js'
import { messageKey, parseReactionKey, reactionKey } from './keys.js'
import type { ReadableStore } from './read-cursors.js'

/**
 * An emoji (or short reaction name) is at most this many characters (code points): a family
 * emoji with joiners is 7, and 16 code points are at most 64 UTF-8 bytes in a key.
 */
export const MAX_EMOJI_CHARS = 16

/** Why an emoji is refused, or undefined when it is fine. */
export function emojiProblem(emoji: string): string | undefined {
  if (emoji.length === 0) return 'the emoji is empty'
  if ([...emoji].length > MAX_EMOJI_CHARS)
    return `the emoji has more than ${MAX_EMOJI_CHARS} characters`
  // Control characters (the 0 byte separates key parts) and whitespace are no reaction.
  if (/[\p{Cc}\s]/u.test(emoji)) return 'the emoji contains control characters or spaces'
  return undefined
}

export class Reactions {
  constructor(private readonly store: ReadWriteStore) {}

  /** Applies an add or a remove; true when the set changed. */
  async apply(
    conversationId: string,
    userId: string,
    msgId: string,
    emoji: string,
    op: 'ADD' | 'REMOVE',
  ): Promise<boolean> {
    const key = reactionKey(conversationId, msgId, emoji, userId)
    const present = (await this.store.get(key)) !== undefined
    if (op === 'ADD' && !present) this.store.put(key, Buffer.from([1]))
    else if (op === 'REMOVE' && present) this.store.delete(key)
    else return false
    return true
  }
}

export interface ReactionTotals {
  counts: Record<string, number>
  /** Who reacted with each emoji (only when asked: small groups). */
  users?: Record<string, string[]>
}

export async function reactionsOf(
  store: ReadableStore,
  conversationId: string,
  msgId: string,
  withUsers: boolean,
): Promise<ReactionTotals> {
  const prefix = messageKey(conversationId, msgId)
  const end = Buffer.from(prefix)
  // The next message id: its 8 bytes + 1 (an id is never 2^64 - 1).
  end.writeBigUInt64BE(end.readBigUInt64BE(end.length - 8) + 1n, end.length - 8)
  const counts: Record<string, number> = {}
  const users: Record<string, string[]> = {}
  for await (const [key] of store.range({ gte: prefix, lt: end })) {
    const { emoji, userId } = parseReactionKey(key, prefix.length)
    counts[emoji] = (counts[emoji] ?? 0) + 1
    if (withUsers) {
      const list = users[emoji] ?? []
      list.push(userId)
      users[emoji] = list
    }
  }
  return withUsers ? { counts, users } : { counts }
}
