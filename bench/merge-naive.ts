// The unmerged baseline of `npm run bench -- merge`: what a design without windows does with
// the same receipts and reactions. A receipt "up to m" bumps the read count of every message
// it newly covers (one store write each) and sends each of their senders an update at once;
// a reaction updates its set and sends every member an update at once.

import type { EventCodec } from '../schemas/codec.js'
import { compareMsgIds } from '../schemas/msg-id.js'
import type { Action, ConversationEvent, Receipt } from '../schemas/types.generated.js'
import { ConversationState } from '../topologies/receiver/index.js'
import { defineTopology, type TopologyDefinition } from '../topologies/runtime/index.js'

export interface NaiveOptions {
  topics: { conversations: string; actions: string; messages: string }
  codecs: {
    conversationEvent: EventCodec<ConversationEvent>
    action: EventCodec<Action>
    receipt: EventCodec<Receipt>
  }
  userPartitions: number
  /** Counts each update sent, per recipient. */
  onUpdates(kind: 'read_status' | 'reaction_summary', n: number): void
}

const key = (...parts: string[]) => Buffer.from(parts.join('\u0000'))

export function naiveMergeTopology(options: NaiveOptions): TopologyDefinition {
  const { topics, codecs } = options
  return defineTopology({
    name: 'naive-merge',
    sources: [
      { topic: topics.conversations, decode: (b) => codecs.conversationEvent.decode(b) },
      { topic: topics.messages, decode: (b) => codecs.receipt.decode(b) },
      { topic: topics.actions, decode: (b) => codecs.action.decode(b) },
    ],
    stores: ['conversations', 'members', 'messages', 'cursors', 'read-counts', 'reactions'],
    processor: (context) => {
      const conversations = new ConversationState(
        context.store('conversations'),
        context.store('members'),
      )
      const messages = context.store('messages')
      const cursors = context.store('cursors')
      const readCounts = context.store('read-counts')
      const reactions = context.store('reactions')
      /** Messages in memory per conversation, oldest first (the baseline's index). */
      const known = new Map<string, { msgId: string; senderId: string }[]>()
      // Counted, not written: the per-member copies of a 10,000-member group's reactions
      // would be hundreds of MB on the shared broker. Its store writes are real.
      const send = (kind: 'read_status' | 'reaction_summary', recipients: readonly string[]) =>
        options.onUpdates(kind, recipients.length)
      return {
        async process(record) {
          if (record.topic === topics.conversations) {
            await conversations.apply(record.value as ConversationEvent)
            return
          }
          if (record.topic === topics.messages) {
            const r = record.value as Receipt
            if (r.outcome.kind !== 'Accepted') return
            messages.put(key(r.conversationId, r.outcome.msgId), Buffer.from(r.senderId))
            const list = known.get(r.conversationId) ?? []
            list.push({ msgId: r.outcome.msgId, senderId: r.senderId })
            list.sort((a, b) => compareMsgIds(a.msgId, b.msgId))
            known.set(r.conversationId, list)
            return
          }
          const { conversationId: cid, userId, action } = record.value as Action
          if (!(await conversations.role(cid, userId))) return
          if (action.kind === 'ReadReceipt') {
            const from = (await cursors.get(key(cid, userId)))?.toString()
            if (from !== undefined && compareMsgIds(from, action.upToMsgId) >= 0) return
            cursors.put(key(cid, userId), Buffer.from(action.upToMsgId))
            for (const m of known.get(cid) ?? []) {
              if (from !== undefined && compareMsgIds(m.msgId, from) <= 0) continue
              if (compareMsgIds(m.msgId, action.upToMsgId) > 0) break
              if (m.senderId === userId) continue
              const k = key(cid, m.msgId)
              const n = ((await readCounts.get(k))?.readInt32BE() ?? 0) + 1
              const bytes = Buffer.alloc(4)
              bytes.writeInt32BE(n)
              readCounts.put(k, bytes)
              send('read_status', [m.senderId])
            }
          } else if (action.kind === 'ReactionChanged') {
            const k = key(cid, action.msgId, action.emoji, userId)
            const present = (await reactions.get(k)) !== undefined
            if (present === (action.op === 'ADD')) return
            if (action.op === 'ADD') reactions.put(k, Buffer.from([1]))
            else reactions.delete(k)
            send('reaction_summary', await conversations.members(cid))
          }
        },
      }
    },
  })
}
