// A device's view of its user's data, changed only by sync events (in PTS order) and by the
// API's answers: the conversation list and each conversation's messages. Pure: no sockets,
// no HTTP, so it is unit-tested as it is.

import type { SequencedEvent, StoredMessage, SyncEvent } from '../../schemas/types.generated.js'
import { MessageStore } from './message-store.js'
import { RoomCursors } from './room-cursors.js'
import type {
  ClientConversation,
  ClientMessage,
  ConversationListEntry,
  HistoryMessage,
  MessageSummary,
} from './types.js'

export interface ApplyResult {
  /** The events newer than what the device held, in order. */
  applied: SequencedEvent[]
  /** Conversations whose metadata the client should (re)fetch from GET /v1/conversations. */
  describe: Set<string>
  /**
   * Conversations whose rows came after the reload that followed the user's home: their
   * latest page is pulled, as the reload would have. Not large groups the device follows: they
   * catch up by their seq. (An ordinary join's messages come by PTS.)
   */
  pull: Set<string>
}

function summary(m: ClientMessage): MessageSummary {
  return {
    msgId: m.msgId,
    senderId: m.senderId,
    type: m.type,
    preview: m.body.slice(0, 100),
    createdAt: m.createdAt,
  }
}

export function fromStored(m: StoredMessage): ClientMessage {
  const { msgId, conversationId, senderId, type, body, createdAt, priority, visibility, seq } = m
  const message = { msgId, conversationId, senderId, type, body, createdAt, priority, visibility }
  return seq > 0 ? { ...message, seq } : message
}

export function fromHistory(conversationId: string, m: HistoryMessage): ClientMessage {
  return { ...m, conversationId }
}

export class ClientState {
  readonly messages = new MessageStore()
  /** Where the device stands in each large group (their messages come outside the PTS order). */
  readonly rooms: RoomCursors
  private readonly list = new Map<string, ClientConversation>()
  /** What the new home listed at the reload after the user's home moved (its later rows are pulled). */
  private listedAtMove: Set<string> | undefined
  /** Merged updates held, by kind and message: the window end of the one applied (latest wins). */
  private readonly mergedAt = new Map<string, number>()

  constructor(
    /** The device's user: their own messages do not count as unread. */
    readonly userId: string,
    /** The newest PTS applied. */
    public lastPts = 0,
    seqs: Readonly<Record<string, number>> = {},
  ) {
    this.rooms = new RoomCursors(seqs)
  }

  conversation(conversationId: string): ClientConversation | undefined {
    return this.list.get(conversationId)
  }

  /** Newest activity first. */
  conversations(): ClientConversation[] {
    return [...this.list.values()].sort(
      (a, b) => (b.last?.createdAt ?? 0) - (a.last?.createdAt ?? 0),
    )
  }

  /** Applies the events newer than lastPts, in order; older ones were applied already. */
  applyEvents(events: readonly SequencedEvent[]): ApplyResult {
    const result: ApplyResult = { applied: [], describe: new Set(), pull: new Set() }
    for (const sequenced of events) {
      if (sequenced.pts <= this.lastPts) continue
      this.apply(sequenced, result)
      this.lastPts = sequenced.pts
      result.applied.push(sequenced)
    }
    return result
  }

  private placeholder(conversationId: string, describe: Set<string>): ClientConversation {
    let conversation = this.list.get(conversationId)
    if (!conversation) {
      conversation = { conversationId, unread: 0, last: null, described: false }
      this.list.set(conversationId, conversation)
    }
    // Until the API has described it, each push to it asks again (the list may lag the push).
    if (!conversation.described) describe.add(conversationId)
    return conversation
  }

  /**
   * A large group's event (docs/sync.md, "Large groups"), in its conversation's seq order:
   * applied like a pushed one. Answers the message it added, if any.
   */
  applyRoomEvent(event: SyncEvent, seq: number, describe: Set<string>): ClientMessage | undefined {
    const { payload } = event
    let added: ClientMessage | undefined
    if (payload.kind === 'NewMessage') {
      const message = fromStored(payload.message)
      if (this.addMessage(message, describe)) added = message
      this.rooms.advance(message.conversationId, seq)
    } else {
      this.apply({ pts: 0, event }, { applied: [], describe, pull: new Set() })
    }
    return added
  }

  /** Messages pulled to fill a large group's gap; answers those that were new. */
  addPulled(conversationId: string, page: readonly HistoryMessage[]): ClientMessage[] {
    const added: ClientMessage[] = []
    const describe = new Set<string>()
    for (const m of page) {
      const message = fromHistory(conversationId, m)
      if (this.addMessage(message, describe)) added.push(message)
      if (m.seq !== undefined) this.rooms.advance(conversationId, m.seq)
    }
    return added
  }

  /**
   * A conversation's latest page, pulled when its row came after the move's reload: merged
   * with what pushes added meanwhile (the list's counts come with its description). Answers
   * the messages that were new.
   */
  addLatest(conversationId: string, page: readonly HistoryMessage[]): ClientMessage[] {
    // A large group (its messages carry their seq): the device follows it by seq, from its
    // room's frames and catch-up, which the join's push may have come before.
    if (this.rooms.get(conversationId) !== undefined || page.some((m) => m.seq !== undefined))
      return []
    const conversation = this.list.get(conversationId)
    const added: ClientMessage[] = []
    for (const m of page) {
      const message = fromHistory(conversationId, m)
      if (!this.messages.add(message)) continue
      added.push(message)
      if (conversation && (conversation.last?.createdAt ?? 0) <= message.createdAt)
        conversation.last = summary(message)
    }
    return added
  }

  /** Too far behind in a large group: its latest page is the truth, as after a Rebase. */
  reload(conversationId: string, page: readonly HistoryMessage[], headSeq: number): void {
    this.messages.replace(
      conversationId,
      page.map((m) => fromHistory(conversationId, m)),
    )
    this.rooms.advance(conversationId, Math.max(headSeq, ...page.map((m) => m.seq ?? 0)))
  }

  private addMessage(message: ClientMessage, describe: Set<string>): boolean {
    const conversation = this.placeholder(message.conversationId, describe)
    if (!this.messages.add(message)) return false
    if (message.senderId !== this.userId) conversation.unread++
    if (!conversation.last || conversation.last.createdAt <= message.createdAt)
      conversation.last = summary(message)
    return true
  }

  private apply({ event }: SequencedEvent, { describe, pull }: ApplyResult): void {
    const payload = event.payload
    switch (payload.kind) {
      case 'NewMessage':
        this.addMessage(fromStored(payload.message), describe)
        return
      case 'MessageDeleted': {
        this.messages.delete(payload.conversationId, payload.msgId)
        const conversation = this.list.get(payload.conversationId)
        if (conversation?.last?.msgId === payload.msgId) {
          const newest = this.messages.newest(payload.conversationId)
          conversation.last = newest ? summary(newest) : null
        }
        return
      }
      case 'ReadStatus': {
        const message = this.messages.get(payload.conversationId, payload.msgId)
        if (message && this.newest(payload)) message.readCount = payload.readCount
        return
      }
      case 'ReactionSummary': {
        const message = this.messages.get(payload.conversationId, payload.msgId)
        if (message && this.newest(payload)) message.reactions = { ...payload.counts }
        return
      }
      case 'ConversationRead': {
        const conversation = this.list.get(payload.conversationId)
        if (conversation) conversation.unread = 0
        return
      }
      case 'ConversationChanged':
        this.placeholder(payload.conversationId, describe)
        describe.add(payload.conversationId)
        return
      case 'MembershipChanged':
        if (payload.member) {
          const held = this.placeholder(payload.conversationId, describe)
          // A row the new home had not yet at the move's reload; a large group the device
          // follows catches up by its own seq (rooms).
          const moved = this.listedAtMove && !this.listedAtMove.has(payload.conversationId)
          if (moved && !held.large && this.rooms.get(payload.conversationId) === undefined)
            pull.add(payload.conversationId)
        } else {
          this.list.delete(payload.conversationId)
          this.messages.drop(payload.conversationId)
        }
        return
    }
  }

  /**
   * Whether a merged update (ReadStatus, ReactionSummary) is at least as new as the one held:
   * the latest window wins, however the updates arrived (a push, a room event, a re-send).
   */
  private newest(update: {
    kind: string
    conversationId: string
    msgId: string
    windowEnd: number
  }): boolean {
    const key = `${update.kind}\u0000${update.conversationId}\u0000${update.msgId}`
    if (update.windowEnd < (this.mergedAt.get(key) ?? 0)) return false
    this.mergedAt.set(key, update.windowEnd)
    return true
  }

  /**
   * Takes the metadata of the listed conversations from GET /v1/conversations. Counts and last
   * messages are taken only where the list is newer than what pushes told (the list may be
   * read before the pushes it already includes are applied, or after).
   */
  describe(entries: readonly ConversationListEntry[], only?: ReadonlySet<string>): void {
    for (const entry of entries) {
      if (only && !only.has(entry.conversationId)) continue
      const held = this.list.get(entry.conversationId)
      const { conversationId, type, memberCount, muted, large, remote } = entry
      const conversation: ClientConversation = {
        ...held,
        conversationId,
        unread: held?.unread ?? 0,
        last: held?.last ?? null,
        ...{ type, memberCount, muted, large, remote },
        described: true,
      }
      if ((entry.last?.createdAt ?? 0) >= (held?.last?.createdAt ?? 0)) {
        conversation.unread = entry.unread
        conversation.last = entry.last
      }
      this.list.set(conversationId, conversation)
    }
  }

  /**
   * After a Rebase: the list and the latest pages are the truth; pushes go on from headPts.
   * `keepUnlisted` (after the user's home moved): the new home's list may not have every moved
   * row yet, so conversations it lacks are kept as held (their rows arrive as pushes). A
   * conversation without a page (its home, in another geo, did not answer) keeps what is held.
   */
  rebase(
    headPts: number,
    entries: readonly ConversationListEntry[],
    pages: ReadonlyMap<string, readonly HistoryMessage[]>,
    { keepUnlisted = false }: { keepUnlisted?: boolean } = {},
  ): void {
    if (!keepUnlisted) this.list.clear()
    const kept = new Set(entries.map((e) => e.conversationId))
    this.listedAtMove = keepUnlisted ? kept : undefined
    for (const entry of entries) {
      const page = pages.get(entry.conversationId)
      if (page === undefined) continue
      this.messages.replace(
        entry.conversationId,
        page.map((m) => fromHistory(entry.conversationId, m)),
      )
    }
    for (const conversationId of this.messages.conversationIds()) {
      if (!kept.has(conversationId) && !keepUnlisted) this.messages.drop(conversationId)
    }
    this.describe(entries)
    // The latest pages were just pulled: large groups continue from their newest seq.
    for (const entry of entries)
      if (entry.large && pages.has(entry.conversationId))
        this.rooms.advance(entry.conversationId, entry.seq ?? 0)
    // Also when the device claimed more than the head (its data came from elsewhere): the
    // pushes that follow start at headPts + 1.
    this.lastPts = headPts
  }
}
