// Big groups read, small groups write — for delivery too. A group above the large-group
// threshold is sequenced per conversation (like Telegram's per-channel pts): each normal
// message gets the conversation's next `seq`, fixed once, and goes once to im.rooms for the
// push gateways to deliver to the member devices they hold. Nothing is written per member.
// An index (conversation, seq) -> log position lets a device pull exactly the gap it missed.

import type { ConversationMeta } from './conversation-state.js'

/** Large groups: lists computed on read, messages sequenced per conversation, online-only push. */
export function isLargeGroup(
  meta: Pick<ConversationMeta, 'memberCount'> | undefined,
  threshold: number,
): boolean {
  return (meta?.memberCount ?? 0) > threshold
}

/** Seq index keys: conversationId, a 0 byte, seq (8 bytes, big-endian) — a conversation's seqs in order. */
export function seqKey(conversationId: string, seq: number): Buffer {
  const position = Buffer.alloc(8)
  position.writeBigUInt64BE(BigInt(seq))
  return Buffer.concat([Buffer.from(conversationId), Buffer.from([0]), position])
}

/** The seq a seq index key holds. */
export function seqOfKey(key: Buffer): number {
  return Number(key.readBigUInt64BE(key.length - 8))
}

/**
 * Whether a membership change moved the group across the threshold: its members' devices
 * switch between per-user PTS and the conversation's seq, so each is told once.
 */
export function crossedThreshold(
  before: ConversationMeta | undefined,
  after: ConversationMeta,
  threshold: number,
): 'large' | 'small' | undefined {
  if (!before) return undefined
  const was = isLargeGroup(before, threshold)
  const is = isLargeGroup(after, threshold)
  if (was === is) return undefined
  return is ? 'large' : 'small'
}
