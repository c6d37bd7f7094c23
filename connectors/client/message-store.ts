// Per-conversation message lists, as a device holds them: deduped by msgId (delivery is at
// least once, and a message pulled after a Rebase may be pushed again), ordered by the
// server's createdAt then msgId (the order history roaming uses), and deleted messages stay
// deleted even when a late copy arrives.

import { compareMsgIds } from '../../schemas/msg-id.js'
import type { ClientMessage } from './types.js'

interface Timeline {
  /** Oldest first. */
  list: ClientMessage[]
  byId: Map<string, ClientMessage>
  deleted: Set<string>
}

export function compareMessages(a: ClientMessage, b: ClientMessage): number {
  return a.createdAt - b.createdAt || compareMsgIds(a.msgId, b.msgId)
}

export class MessageStore {
  private readonly timelines = new Map<string, Timeline>()

  private timeline(conversationId: string): Timeline {
    let timeline = this.timelines.get(conversationId)
    if (!timeline) {
      timeline = { list: [], byId: new Map(), deleted: new Set() }
      this.timelines.set(conversationId, timeline)
    }
    return timeline
  }

  /** Adds the message in order; false when it is known already or was deleted. */
  add(message: ClientMessage): boolean {
    const timeline = this.timeline(message.conversationId)
    if (timeline.byId.has(message.msgId) || timeline.deleted.has(message.msgId)) return false
    const { list } = timeline
    // Messages mostly arrive newest last: search from the end.
    let at = list.length
    while (at > 0 && compareMessages(list[at - 1] as ClientMessage, message) > 0) at--
    list.splice(at, 0, message)
    timeline.byId.set(message.msgId, message)
    return true
  }

  /** Hides the message for good; false when it was not held (it is still remembered). */
  delete(conversationId: string, msgId: string): boolean {
    const timeline = this.timeline(conversationId)
    timeline.deleted.add(msgId)
    const message = timeline.byId.get(msgId)
    if (!message) return false
    timeline.byId.delete(msgId)
    timeline.list.splice(timeline.list.indexOf(message), 1)
    return true
  }

  /** Replaces what is held of a conversation (after a Rebase: the latest page is the truth). */
  replace(conversationId: string, messages: readonly ClientMessage[]): void {
    const deleted = this.timelines.get(conversationId)?.deleted ?? new Set<string>()
    this.timelines.set(conversationId, { list: [], byId: new Map(), deleted })
    for (const message of messages) this.add(message)
  }

  get(conversationId: string, msgId: string): ClientMessage | undefined {
    return this.timelines.get(conversationId)?.byId.get(msgId)
  }

  /** Oldest first. */
  messages(conversationId: string): readonly ClientMessage[] {
    return this.timelines.get(conversationId)?.list ?? []
  }

  newest(conversationId: string): ClientMessage | undefined {
    return this.timelines.get(conversationId)?.list.at(-1)
  }

  conversationIds(): string[] {
    return [...this.timelines.keys()]
  }

  drop(conversationId: string): void {
    this.timelines.delete(conversationId)
  }
}
