// What a closed window becomes: per message whose read count changed, one ReadStatus to its
// sender (per-user, so it gets a PTS); per message whose reactions changed, one
// ReactionSummary — to every member of a small group (their hand-off), or once on im.rooms for
// a large group (push gateways deliver it to the online member devices). Counts are read off
// the totals when the window closes, so they are exact whatever the window merged.

import { compareMsgIds } from '../../schemas/msg-id.js'
import type { SyncEvent } from '../../schemas/types.generated.js'
import type { ConversationState } from '../receiver/index.js'
import type { ClosedWindow } from './emission-windows.js'
import { fromMessage, msgIdOfKey } from './keys.js'
import { reactionsOf } from './reactions.js'
import { cursorOf, type ReadableStore, readCounts } from './read-cursors.js'

/** A window emits read statuses for at most this many messages per conversation, the newest. */
export const MAX_STATUSES_PER_WINDOW = 500

export interface EmitTarget {
  /** Per-user delivery (FanoutBatch hand-off): each recipient gets the event with a PTS. */
  toUsers(
    conversationId: string,
    recipients: readonly string[],
    sourceId: string,
    event: SyncEvent,
  ): Promise<void>
  /** A large group's event, once (RoomEvent on im.rooms). */
  toRoom(conversationId: string, createdAt: number, event: SyncEvent): Promise<void>
}

export interface MergeStores {
  index: ReadableStore
  cursors: ReadableStore
  histogram: ReadableStore
  reactions: ReadableStore
}

export interface Emitted {
  readStatuses: number
  /** Deliveries: recipients of per-user summaries, plus one per room event. */
  reactionDeliveries: number
}

/** The known messages (msgId -> sender) in the window's read intervals, newest kept. */
async function changedMessages(
  index: ReadableStore,
  { conversationId, updates }: ClosedWindow,
): Promise<Map<string, string>> {
  const found: [string, string][] = []
  for (const [lo, hi] of updates.reads) {
    for await (const [key, sender] of index.range(fromMessage(conversationId, lo))) {
      const msgId = msgIdOfKey(key)
      if (compareMsgIds(msgId, hi) > 0) break
      found.push([msgId, sender.toString()])
    }
  }
  return new Map(found.slice(-MAX_STATUSES_PER_WINDOW))
}

export async function emitUpdates(
  stores: MergeStores,
  conversations: ConversationState,
  closed: ClosedWindow,
  target: EmitTarget,
): Promise<Emitted> {
  const { conversationId, window, updates, large } = closed
  const emitted: Emitted = { readStatuses: 0, reactionDeliveries: 0 }
  const senders = await changedMessages(stores.index, closed)
  const counts = await readCounts(stores.histogram, conversationId, [...senders.keys()])
  const senderCursors = new Map<string, string | undefined>()
  for (const [msgId, senderId] of senders) {
    if (!senderCursors.has(senderId))
      senderCursors.set(senderId, await cursorOf(stores.cursors, conversationId, senderId))
    // The sender's own cursor is no reader of their message.
    const own = senderCursors.get(senderId)
    const self = own !== undefined && compareMsgIds(own, msgId) >= 0 ? 1 : 0
    const readCount = (counts.get(msgId) ?? 0) - self
    if (readCount <= 0) continue
    const newReaders = Object.entries(updates.readers)
      .filter(
        ([u, [lo, hi]]) =>
          u !== senderId && compareMsgIds(lo, msgId) <= 0 && compareMsgIds(msgId, hi) <= 0,
      )
      .map(([u]) => u)
    await target.toUsers(conversationId, [senderId], `read-status:${msgId}:${window.end}`, {
      priority: large ? 'LOW' : 'HIGH',
      payload: {
        kind: 'ReadStatus',
        conversationId,
        msgId,
        readCount,
        newReaders,
        windowEnd: window.end,
      },
    })
    emitted.readStatuses++
  }
  const members =
    updates.reactions.length > 0 && !large ? await conversations.members(conversationId) : []
  for (const msgId of updates.reactions) {
    const { counts: perEmoji } = await reactionsOf(stores.reactions, conversationId, msgId, false)
    const event: SyncEvent = {
      priority: 'LOW',
      payload: {
        kind: 'ReactionSummary',
        conversationId,
        msgId,
        counts: perEmoji,
        windowEnd: window.end,
      },
    }
    if (large) {
      await target.toRoom(conversationId, window.end, event)
      emitted.reactionDeliveries++
    } else {
      await target.toUsers(conversationId, members, `reactions:${msgId}:${window.end}`, event)
      emitted.reactionDeliveries += members.length
    }
  }
  return emitted
}
