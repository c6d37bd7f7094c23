// The receiver (conversation-keyed): keeps conversations and memberships from
// im.conversations, and answers every message on im.ingest with a receipt — Accepted with a
// msgId fixed once per (sender, clientMsgId), Rejected with a reason, or Throttled. Normal
// messages are stored once, in the conversation's log (conversation_message); every accepted
// message also goes on to the next stages on an internal topic. Conversations homed in another
// unit are only routed here: their messages and changes go to that unit (route-by-unit.ts).
// The handlers are receive.ts, actions.ts and conversation-events.ts, over a ReceiverTask.

import type { Action, ConversationEvent, SendMessage } from '../../schemas/types.generated.js'
import { byConversation, decodeStoredMessage, RECEIVER_STORES as STORES } from '../model/index.js'
import { defineTopology, type InputRecord, type TopologyDefinition } from '../runtime/index.js'
import { act } from './actions.js'
import { admitAll } from './admission.js'
import { onConversationEvent } from './conversation-events.js'
import { deliverDeferred, deliverForwarded } from './deferred-after-move.js'
import { PARKED_STORE } from './forward-or-park.js'
import { isMoveBarrier, onMoveBarrier } from './move-barrier.js'
import { HELD_STORE, importKind, isHandOverPart, MOVES_STORE } from './move-in.js'
import { EXPORTS_STORE } from './move-out.js'
import { PRIVATE_DEDUPE_STORE } from './private-dedupe.js'
import { prefetchSends, receive } from './receive.js'
import { type ReceiverOptions, remoteSinks } from './receiver-options.js'
import { ReceiverTask } from './receiver-task.js'
import { originOf } from './route-by-unit.js'

export function receiverTopology(options: ReceiverOptions): TopologyDefinition {
  const { topics, codecs } = options
  const admission = options.admission ?? admitAll
  return defineTopology({
    name: 'receiver',
    // A push waits on it: each slice commits at once.
    commitIntervalMs: 0,
    // Any producer: a record on a partition that does not own its conversation is re-routed
    // there (merge, reading the same topics, leaves those to this topology).
    sources: [
      {
        topic: topics.conversations,
        decode: (b) => codecs.conversationEvent.decode(b),
        owner: byConversation('reroute'),
      },
      {
        topic: topics.ingest,
        decode: (b) => codecs.sendMessage.decode(b),
        owner: byConversation('reroute'),
      },
      {
        topic: topics.actions,
        decode: (b) => codecs.action.decode(b),
        owner: byConversation('reroute'),
      },
      ...(options.users
        ? [
            {
              topic: options.users.topic,
              decode: (b: Buffer) => options.users?.codec.decode(b),
              tombstones: true,
            },
          ]
        : []),
    ],
    sinks: {
      receipts: { topic: topics.receipts },
      fanout: { topic: topics.fanout },
      rooms: { topic: topics.rooms },
      ...remoteSinks(options),
    },
    stores: [
      ...Object.values(STORES),
      PARKED_STORE,
      MOVES_STORE,
      HELD_STORE,
      EXPORTS_STORE,
      PRIVATE_DEDUPE_STORE,
      ...admission.stores,
    ],
    internalTopics: [topics.fanout],
    processor: (context) => {
      const task = new ReceiverTask(
        context,
        options,
        (task, stored) => deliverDeferred(task, decodeStoredMessage(stored)),
        handle,
      )
      return {
        prefetch: (records) =>
          prefetchSends(
            task,
            records
              // An import reads nothing ahead: it is stored as it comes.
              .filter((r) => r.topic === topics.ingest && importKind(r) === undefined)
              .map((r) => ({ message: r.value as SendMessage, headers: r.headers })),
          ),
        process: (record) => handle(task, record),
      }
    },
  })
}

/** One input record, by its topic; a moving conversation's messages and actions wait (move-in.ts). */
async function handle(task: ReceiverTask, record: InputRecord): Promise<void> {
  const { topics, codecs, users } = task.options
  if (record.topic === users?.topic) return
  if (record.topic === topics.conversations) {
    const event = record.value as ConversationEvent
    if (isMoveBarrier(record)) return onMoveBarrier(task, record, event)
    // Moving here, or moved on before its history got here: a change waits (a move on, then
    // taking the history along), but the hand-over, which completes the move, is applied. A
    // membership change applied before the hand-over would be applied to the roster the
    // hand-over replaces.
    if (!isHandOverPart(record) && (await task.moves.holds(event.conversationId)))
      return task.moves.hold(record, event.conversationId, codecs.conversationEvent.encode(event))
    return onConversationEvent(task, record, event)
  }
  // Imports come only from units this one knows, forwarded once.
  const origin = originOf(record)
  const kind =
    origin !== undefined && Object.hasOwn(task.options.units ?? {}, origin)
      ? importKind(record)
      : undefined
  if (record.topic === topics.actions) {
    const action = record.value as Action
    if (kind === 'read') return task.moves.importRead(action)
    if (kind === 'begin') return task.moves.importBegun(action.conversationId)
    if (await task.moves.holds(action.conversationId))
      return task.moves.hold(record, action.conversationId, codecs.action.encode(action))
    return act(task, record, action)
  }
  const message = record.value as SendMessage
  if (kind === 'message') return task.moves.importMessage(record, message)
  if (kind === 'messages') return task.moves.importMessages(message)
  if (kind === 'answers') return task.moves.importAnswers(message)
  if (kind === 'end') return task.moves.importEnded(record, message.conversationId)
  if (await task.moves.holds(message.conversationId))
    return task.moves.hold(record, message.conversationId, codecs.sendMessage.encode(message))
  // A LOW message deferred at the old home, drained after the move (deferred-after-move.ts).
  if (kind === 'deliver') return deliverForwarded(task, record, message)
  return receive(task, record, message)
}
