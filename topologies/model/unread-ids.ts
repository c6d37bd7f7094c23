// The newest unread msgIds of a conversation-list row, packed: each id its 8 bytes,
// big-endian. Message ids are 64-bit and time-ordered, so the bytes order as the ids do. A
// new message appends its 8 bytes to each recipient's row, and a row is stored as it is held:
// no id is parsed or printed per recipient (as JSON, 100 ids were 2 KB a row, read and
// written for every recipient of every message).

import { msgIdBytes as bytesOf, isMsgId } from '../../schemas/msg-id.js'

export const UNREAD_IDS_KEPT = 100
const ID = 8

export const NO_UNREAD_IDS: Buffer = Buffer.alloc(0)

/** A msgId's 8 bytes; undefined for what is not a message id (a read receipt can say anything). */
export function msgIdBytes(msgId: string): Buffer | undefined {
  return isMsgId(msgId) ? bytesOf(msgId) : undefined
}

export function packUnreadIds(ids: readonly string[]): Buffer {
  return Buffer.concat(ids.flatMap((id) => msgIdBytes(id) ?? []))
}

export function unpackUnreadIds(packed: Buffer): string[] {
  const ids: string[] = []
  for (let at = 0; at < packed.length; at += ID) ids.push(packed.readBigUInt64BE(at).toString())
  return ids
}

export function unreadIdCount(packed: Buffer): number {
  return packed.length / ID
}

const idAt = (packed: Buffer, i: number) => packed.subarray(i * ID, (i + 1) * ID)

/** `id` appended (the newest), the oldest dropped past UNREAD_IDS_KEPT. */
export function withUnreadId(packed: Buffer, id: Buffer): Buffer {
  const keep = Math.min(unreadIdCount(packed), UNREAD_IDS_KEPT - 1)
  return Buffer.concat([packed.subarray(packed.length - keep * ID), id])
}

export function holdsUnreadId(packed: Buffer, id: Buffer): boolean {
  for (let i = 0; i < unreadIdCount(packed); i++) if (idAt(packed, i).equals(id)) return true
  return false
}

export function withoutUnreadId(packed: Buffer, id: Buffer): Buffer {
  const kept: Buffer[] = []
  for (let i = 0; i < unreadIdCount(packed); i++)
    if (!idAt(packed, i).equals(id)) kept.push(idAt(packed, i))
  return kept.length === unreadIdCount(packed) ? packed : Buffer.concat(kept)
}

/** The ids above `upTo`, in their order. */
export function unreadIdsAfter(packed: Buffer, upTo: Buffer): Buffer {
  const kept: Buffer[] = []
  for (let i = 0; i < unreadIdCount(packed); i++)
    if (Buffer.compare(idAt(packed, i), upTo) > 0) kept.push(idAt(packed, i))
  return Buffer.concat(kept)
}

export function oldestUnreadId(packed: Buffer): Buffer | undefined {
  return packed.length === 0 ? undefined : idAt(packed, 0)
}

/** Both sets of ids, each once, in order, the newest UNREAD_IDS_KEPT. */
export function mergeUnreadIds(a: Buffer, b: Buffer): Buffer {
  const ids = new Map<string, Buffer>()
  for (const packed of [a, b])
    for (let i = 0; i < unreadIdCount(packed); i++)
      ids.set(idAt(packed, i).toString('latin1'), idAt(packed, i))
  const sorted = [...ids.values()].sort(Buffer.compare)
  return Buffer.concat(sorted.slice(-UNREAD_IDS_KEPT))
}
