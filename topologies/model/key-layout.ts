// Every byte-key layout of the topologies' stores, in one place. Keys are ids joined by a 0
// byte (ids never contain one), so all of an entity's entries share a prefix and one range
// scan reads them; a message's position (creation time, 8 bytes big-endian, then its msgId)
// sorts by time in the conversation log and in every inbox alike, so logs merge by bytes.

import { writeInt64BE } from '../../state/index.js'

const SEPARATOR = Buffer.from([0])

/**
 * A key's parts in one buffer, written once (keys are made for every recipient of every
 * message): a string as UTF-8, a number as 8 bytes big-endian (non-negative, below 2^53: the
 * bytes int64Serde writes), a buffer as it is.
 */
function key(...parts: readonly (string | number | Buffer)[]): Buffer {
  let length = 0
  for (const part of parts)
    length +=
      typeof part === 'string'
        ? Buffer.byteLength(part)
        : typeof part === 'number'
          ? 8
          : part.length
  const bytes = Buffer.allocUnsafe(length)
  let at = 0
  for (const part of parts) {
    if (typeof part === 'string') at += bytes.write(part, at)
    else if (typeof part === 'number') {
      writeInt64BE(bytes, part, at)
      at += 8
    } else at += part.copy(bytes, at)
  }
  return bytes
}

/** The first part, then a 0 byte: every key of that id starts with it. */
function prefixOf(id: string): Buffer {
  return key(id, SEPARATOR)
}

/** Where a message sits in a log: its creation time, then its id. */
export function messagePosition(createdAt: number, msgId: string): Buffer {
  return key(createdAt, msgId)
}

/** The bytes of a position's time part: anything shorter is not a position. */
export const POSITION_TIME_BYTES = 8

// Conversation-keyed (the receiver's stores)

/** All keys of one conversation start with this. */
export function conversationPrefix(conversationId: string): Buffer {
  return prefixOf(conversationId)
}

/** A membership or a member's read cursor: conversationId, 0, userId. */
export function memberKey(conversationId: string, userId: string): Buffer {
  return key(conversationId, SEPARATOR, userId)
}

/** The conversation log: conversationId, 0, then the message's position. */
export function messageKey(conversationId: string, createdAt: number, msgId: string): Buffer {
  return key(conversationId, SEPARATOR, createdAt, msgId)
}

/** A large group's seq index: conversationId, 0, seq (8 bytes) — its messages in seq order. */
export function seqIndexKey(conversationId: string, seq: number): Buffer {
  return key(conversationId, SEPARATOR, seq)
}

/** The receiver's dedupe key (a text key): one answer per (sender, clientMsgId). */
export function dedupeKey(senderId: string, clientMsgId: string): string {
  return `${senderId}\u0000${clientMsgId}`
}

// User-keyed (the inbox's and sync's stores)

/** All keys of one user start with this. */
export function userPrefix(userId: string): Buffer {
  return prefixOf(userId)
}

/** A conversation list row: userId, 0, conversationId. */
export function listKey(userId: string, conversationId: string): Buffer {
  return key(userId, SEPARATOR, conversationId)
}

/** A user's entries about one conversation: userId, 0, conversationId, 0. */
export function inboxPrefix(userId: string, conversationId: string): Buffer {
  return key(userId, SEPARATOR, conversationId, SEPARATOR)
}

/** A private message in a user's inbox: userId, 0, then the conversation log's key. */
export function inboxKey(
  userId: string,
  conversationId: string,
  createdAt: number,
  msgId: string,
): Buffer {
  return key(userId, SEPARATOR, conversationId, SEPARATOR, createdAt, msgId)
}

/** A delete-for-me marker: userId, 0, conversationId, 0, msgId. */
export function deletedKey(userId: string, conversationId: string, msgId: string): Buffer {
  return key(userId, SEPARATOR, conversationId, SEPARATOR, msgId)
}

/** The conversation and message a delete-for-me marker of `userId` is for (deletedKey's inverse). */
export function deletedKeyParts(
  userId: string,
  key: Buffer,
): { conversationId: string; msgId: string } {
  const rest = key.subarray(userPrefix(userId).length)
  const at = rest.indexOf(0)
  return {
    conversationId: rest.subarray(0, at).toString(),
    msgId: rest.subarray(at + 1).toString(),
  }
}

/** The sync queue: userId, 0, PTS (8 bytes), in PTS order. */
export function syncQueueKey(userId: string, pts: number): Buffer {
  return key(userId, SEPARATOR, pts)
}

/** The PTS index: userId, 0, the source event's id. */
export function ptsIndexKey(userId: string, sourceId: string): Buffer {
  return key(userId, SEPARATOR, sourceId)
}
