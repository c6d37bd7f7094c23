// The merge stores' key layout, in one place. Every key starts with the conversation id and a
// 0 byte, so one conversation's entries are a prefix; message ids are 8 bytes big-endian, so
// a conversation's messages (and cursor positions) sort by id, oldest first, and "every
// message from m on" is one range scan.

import { msgIdBytes } from '../../schemas/msg-id.js'
import { prefixEnd } from '../../state/index.js'

/** conversationId, 0: the prefix of everything the merge keeps about one conversation. */
export function conversationPrefix(conversationId: string): Buffer {
  return Buffer.concat([Buffer.from(conversationId), Buffer.from([0])])
}

export function msgIdFrom(bytes: Buffer, offset: number): string {
  return bytes.readBigUInt64BE(offset).toString()
}

/** cid, 0, msgId (8 bytes): a message (index, cursor histogram). */
export function messageKey(conversationId: string, msgId: string): Buffer {
  return Buffer.concat([conversationPrefix(conversationId), msgIdBytes(msgId)])
}

/** The msgId of a messageKey. */
export function msgIdOfKey(key: Buffer): string {
  return msgIdFrom(key, key.length - 8)
}

/** Every key of one conversation. */
export function conversationRange(conversationId: string): { gte: Buffer; lt?: Buffer } {
  const prefix = conversationPrefix(conversationId)
  const end = prefixEnd(prefix)
  return { gte: prefix, ...(end ? { lt: end } : {}) }
}

/** Keys from `msgId` (inclusive) to the end of the conversation. */
export function fromMessage(conversationId: string, msgId: string): { gte: Buffer; lt?: Buffer } {
  const end = prefixEnd(conversationPrefix(conversationId))
  return { gte: messageKey(conversationId, msgId), ...(end ? { lt: end } : {}) }
}

/** cid, 0, msgId, emoji, 0, userId: one user's reaction with one emoji. */
export function reactionKey(
  conversationId: string,
  msgId: string,
  emoji: string,
  userId: string,
): Buffer {
  return Buffer.concat([
    messageKey(conversationId, msgId),
    Buffer.from(emoji),
    Buffer.from([0]),
    Buffer.from(userId),
  ])
}

/** The emoji and user of a reactionKey. */
export function parseReactionKey(
  key: Buffer,
  prefixLength: number,
): { emoji: string; userId: string } {
  const rest = key.subarray(prefixLength)
  const zero = rest.indexOf(0)
  return { emoji: rest.subarray(0, zero).toString(), userId: rest.subarray(zero + 1).toString() }
}

/** cid, 0, userId: a member's read cursor. */
export function userKey(conversationId: string, userId: string): Buffer {
  return Buffer.concat([conversationPrefix(conversationId), Buffer.from(userId)])
}
