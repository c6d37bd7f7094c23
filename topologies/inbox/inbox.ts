// The inbox (user-keyed): the write-diffusion side of the hybrid storage model. It keeps,
// per user, the private messages (P) they may see and their per-user state changes of
// normal messages (NP: deleted for me), read back at history time and merged with the
// conversation's log. Normal messages (N) are not copied here: they stay stored once.

import type { EventCodec } from '../../schemas/codec.js'
import type { FanoutBatch } from '../../schemas/types.generated.js'
import { encodeStoredMessage, messageKey } from '../receiver/index.js'
import { defineTopology, type TopologyDefinition } from '../runtime/index.js'

export const INBOX_STORES = {
  /** message_inbox: uid, 0, then the conversation log's key (cid, 0, createdAt, msgId). */
  inbox: 'message-inbox',
  /** NP markers: uid, 0, cid, 0, msgId. */
  deleted: 'deleted-for-me',
} as const

export function inboxPrefix(userId: string, conversationId: string): Buffer {
  return Buffer.concat([
    Buffer.from(userId),
    Buffer.from([0]),
    Buffer.from(conversationId),
    Buffer.from([0]),
  ])
}

export function deletedKey(userId: string, conversationId: string, msgId: string): Buffer {
  return Buffer.concat([inboxPrefix(userId, conversationId), Buffer.from(msgId)])
}

export interface InboxOptions {
  fanout: string
  codec: EventCodec<FanoutBatch>
}

export function inboxTopology(options: InboxOptions): TopologyDefinition {
  return defineTopology({
    name: 'inbox',
    sources: [{ topic: options.fanout, decode: (b) => options.codec.decode(b) }],
    stores: Object.values(INBOX_STORES),
    processor: (context) => {
      const inbox = context.store(INBOX_STORES.inbox)
      const deleted = context.store(INBOX_STORES.deleted)
      return {
        process(record) {
          const batch = record.value as FanoutBatch
          const payload = batch.event.payload
          if (payload.kind === 'NewMessage' && payload.message.visibility === 'PRIVATE') {
            const m = payload.message
            for (const userId of batch.recipients) {
              inbox.put(
                Buffer.concat([
                  Buffer.from(userId),
                  Buffer.from([0]),
                  messageKey(m.conversationId, m.createdAt, m.msgId),
                ]),
                encodeStoredMessage(m),
              )
            }
          } else if (payload.kind === 'MessageDeleted') {
            for (const userId of batch.recipients) {
              deleted.put(
                deletedKey(userId, payload.conversationId, payload.msgId),
                Buffer.from([1]),
              )
            }
          }
        },
      }
    },
  })
}
