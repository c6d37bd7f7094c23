// Read counts from cursors, not from per-message writes. A read receipt "up to m" marks every
// earlier message read, so writing a row per message read would cost O(members x messages).
// Instead each member has one cursor (forward only) and the conversation a histogram: how
// many members' cursors stand at each message. A receipt moves one cursor and two histogram
// cells (3 writes, however many messages it covers); message m's read count is the number of
// cursors at or after it — a suffix sum over the histogram, computed when a window closes or a
// query asks, for the messages that need it.

import { compareMsgIds, msgIdBytes } from '../../schemas/msg-id.js'
import type { KeyRange, ReadWriteStore } from '../../state/index.js'
import {
  conversationRange,
  fromMessage,
  messageKey,
  msgIdFrom,
  msgIdOfKey,
  userKey,
} from './keys.js'

/** What both the task (its stores) and the API (committed views) can read. */
export interface ReadableStore {
  get(key: Buffer): Promise<Buffer | undefined>
  range(range?: KeyRange): AsyncIterable<[Buffer, Buffer]>
}

export interface CursorMove {
  userId: string
  /** The cursor before the receipt; undefined: nothing read yet. */
  from: string | undefined
  to: string
}

function count(bytes: Buffer | undefined): number {
  return bytes === undefined ? 0 : bytes.readInt32BE()
}

function countBytes(n: number): Buffer {
  const out = Buffer.alloc(4)
  out.writeInt32BE(n)
  return out
}

export async function cursorOf(
  cursors: ReadableStore,
  conversationId: string,
  userId: string,
): Promise<string | undefined> {
  const bytes = await cursors.get(userKey(conversationId, userId))
  return bytes === undefined ? undefined : msgIdFrom(bytes, 0)
}

/** Conversations whose bound is kept; past it they are learnt again (one scan each). */
const MAX_BOUNDS_KEPT = 100_000

export class ReadCursors {
  /**
   * Per conversation, a message no cursor stands after (an upper bound: raised as cursors
   * move, never lowered; null: no cursor at all). A new message is almost always past every
   * cursor, and this says so without a scan of the histogram.
   */
  private readonly furthest = new Map<string, string | null>()

  constructor(
    private readonly cursors: ReadWriteStore,
    private readonly histogram: ReadWriteStore,
  ) {
    // A rolled-back move may have raised a bound the store no longer backs: learn it again.
    histogram.onRollback(() => this.furthest.clear())
  }

  /** False when no member's cursor stands at or after `msgId`; true when some may. */
  async anyAtOrAfter(conversationId: string, msgId: string): Promise<boolean> {
    let bound = this.furthest.get(conversationId)
    if (bound === undefined) {
      bound = null
      for await (const [key] of this.histogram.range(conversationRange(conversationId)))
        bound = msgIdOfKey(key)
      if (this.furthest.size >= MAX_BOUNDS_KEPT) this.furthest.clear()
      this.furthest.set(conversationId, bound)
    }
    return bound !== null && compareMsgIds(bound, msgId) >= 0
  }

  /** Moves the user's cursor up to `upTo`; undefined when it already stood there or later. */
  async move(
    conversationId: string,
    userId: string,
    upTo: string,
  ): Promise<CursorMove | undefined> {
    const from = await cursorOf(this.cursors, conversationId, userId)
    if (from !== undefined && compareMsgIds(from, upTo) >= 0) return undefined // never backwards
    this.cursors.put(userKey(conversationId, userId), msgIdBytes(upTo))
    if (from !== undefined) await this.add(conversationId, from, -1)
    await this.add(conversationId, upTo, 1)
    return { userId, from, to: upTo }
  }

  /** A member left: their cursor no longer counts. */
  async drop(conversationId: string, userId: string): Promise<void> {
    const at = await cursorOf(this.cursors, conversationId, userId)
    if (at === undefined) return
    this.cursors.delete(userKey(conversationId, userId))
    await this.add(conversationId, at, -1)
  }

  private async add(conversationId: string, msgId: string, delta: number): Promise<void> {
    const bound = this.furthest.get(conversationId)
    if (delta > 0 && bound !== undefined && (bound === null || compareMsgIds(msgId, bound) > 0))
      this.furthest.set(conversationId, msgId)
    const key = messageKey(conversationId, msgId)
    const n = count(await this.histogram.get(key)) + delta
    if (n > 0) this.histogram.put(key, countBytes(n))
    else this.histogram.delete(key)
  }
}

/**
 * For each of `msgIds`: how many members' cursors stand at or after it. One scan of the
 * histogram from the oldest of them on (its cells are cursor positions, at most one per
 * member), then a walk that drops the cells passed.
 */
export async function readCounts(
  histogram: ReadableStore,
  conversationId: string,
  msgIds: readonly string[],
): Promise<Map<string, number>> {
  const sorted = [...msgIds].sort(compareMsgIds)
  const counts = new Map<string, number>()
  const oldest = sorted[0]
  if (oldest === undefined) return counts
  const cells: [string, number][] = []
  let total = 0
  for await (const [key, value] of histogram.range(fromMessage(conversationId, oldest))) {
    const n = count(value)
    cells.push([msgIdOfKey(key), n])
    total += n
  }
  let i = 0
  for (const msgId of sorted) {
    for (; i < cells.length && compareMsgIds((cells[i] as [string, number])[0], msgId) < 0; i++)
      total -= (cells[i] as [string, number])[1]
    counts.set(msgId, total)
  }
  return counts
}

/** Every member whose cursor stands at or after `msgId` (small groups: a scan of their cursors). */
export async function readersOf(
  cursors: ReadableStore,
  conversationId: string,
  msgId: string,
): Promise<string[]> {
  const prefix = userKey(conversationId, '')
  const readers: string[] = []
  for await (const [key, value] of cursors.range(conversationRange(conversationId))) {
    if (compareMsgIds(msgIdFrom(value, 0), msgId) >= 0)
      readers.push(key.subarray(prefix.length).toString())
  }
  return readers
}
