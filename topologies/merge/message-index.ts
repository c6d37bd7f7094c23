// Who sent each message, for the merge: a read status goes to the message's sender, but a read
// receipt names only a message id. The receiver's Accepted receipts (im.receipts, keyed by
// sender) carry the conversation, the msgId and the sender; this stateless topology re-keys
// them by conversation onto an internal topic co-partitioned with im.actions, so the merge
// task that counts a conversation's reads also learns its messages — without the receiver
// writing anything more. The receipt goes on as it is (im.receipts' schema).

import type { EventCodec } from '../../schemas/codec.js'
import type { Receipt } from '../../schemas/types.generated.js'
import { defineTopology, type TopologyDefinition } from '../runtime/index.js'
import { partitionForKey } from '../runtime/partitioner.js'

export interface MessageIndexOptions {
  topics: { receipts: string; messages: string }
  codec: EventCodec<Receipt>
  /** Partitions of the conversation-keyed topics (im.actions). */
  partitions: number
}

export function messageIndexTopology(options: MessageIndexOptions): TopologyDefinition {
  return defineTopology({
    name: 'merge-index',
    // A transaction per slice, begun at most every IMFLOW_TRANSACTION_PACE_MS (the app's run()).
    commitIntervalMs: 0,
    sources: [{ topic: options.topics.receipts, decode: (b) => options.codec.decode(b) }],
    sinks: { messages: { topic: options.topics.messages } },
    internalTopics: [options.topics.messages],
    processor: (context) => ({
      process(record) {
        const receipt = record.value as Receipt
        if (receipt.outcome.kind !== 'Accepted') return
        context.send('messages', {
          key: receipt.conversationId,
          value: options.codec.encode(receipt),
          partition: partitionForKey(receipt.conversationId, options.partitions),
        })
      },
    }),
  })
}
