// The receiver (conversation-keyed): keeps conversations and memberships from
// im.conversations, and answers every message on im.ingest with a receipt — Accepted with a
// msgId fixed once per (sender, clientMsgId), Rejected with a reason, or Throttled. Normal
// messages are stored once, in the conversation's log (conversation_message); every accepted
// message also goes on to the next stages on an internal topic. Conversations homed in another
// unit are only routed here: their messages and changes go to that unit (route-by-unit.ts).
// The handlers are receive.ts, actions.ts and conversation-events.ts, over a ReceiverTask.

import type { Action, ConversationEvent, SendMessage } from '../../schemas/types.generated.js'
import { byConversation, decodeStoredMessage, RECEIVER_STORES as STORES } from '../model/index.js'
import { defineTopology, type TopologyDefinition } from '../runtime/index.js'
import { act } from './actions.js'
import { admitAll } from './admission.js'
import { onConversationEvent } from './conversation-events.js'
import { PARKED_STORE } from './forward-or-park.js'
import { deliver, prefetchSends, receive } from './receive.js'
import { type ReceiverOptions, remoteSinks } from './receiver-options.js'
import { ReceiverTask } from './receiver-task.js'

export function receiverTopology(options: ReceiverOptions): TopologyDefinition {
  const { topics, codecs } = options
  const admission = options.admission ?? admitAll
  return defineTopology({
    name: 'receiver',
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
    stores: [...Object.values(STORES), PARKED_STORE, ...admission.stores],
    internalTopics: [topics.fanout],
    processor: (context) => {
      const task = new ReceiverTask(context, options, (task, stored) =>
        deliver(task, decodeStoredMessage(stored)),
      )
      return {
        prefetch: (records) =>
          prefetchSends(
            task,
            records
              .filter((r) => r.topic === topics.ingest)
              .map((r) => ({ message: r.value as SendMessage, headers: r.headers })),
          ),
        async process(record) {
          if (record.topic === options.users?.topic) return
          if (record.topic === topics.conversations) {
            await onConversationEvent(task, record, record.value as ConversationEvent)
          } else if (record.topic === topics.actions) {
            await act(task, record, record.value as Action)
          } else {
            await receive(task, record, record.value as SendMessage)
          }
        },
      }
    },
  })
}
