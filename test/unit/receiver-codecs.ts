// The receiver's codecs over an in-memory schema source: what every receiver-side unit test
// (and merge's, which reads the same topics) builds its topology with.

import { createEventCodec } from '../../schemas/codec.js'
import { memorySchemaSource } from '../../schemas/schema-source.js'
import type { ReceiverOptions } from '../../topologies/receiver/index.js'

export type ReceiverCodecs = ReceiverOptions['codecs']

export async function receiverCodecs(): Promise<ReceiverCodecs> {
  const source = memorySchemaSource()
  return {
    sendMessage: await createEventCodec(source, 'im.ingest-value', 'SendMessage'),
    conversationEvent: await createEventCodec(
      source,
      'im.conversations-value',
      'ConversationEvent',
    ),
    receipt: await createEventCodec(source, 'im.receipts-value', 'Receipt'),
    fanoutBatch: await createEventCodec(source, 'fanout-value', 'FanoutBatch'),
    roomEvent: await createEventCodec(source, 'im.rooms-value', 'RoomEvent'),
    action: await createEventCodec(source, 'im.actions-value', 'Action'),
  }
}

/** The receiver's topics, as the receiver-side unit tests name them. */
export const receiverTopics = {
  ingest: 'im.ingest',
  conversations: 'im.conversations',
  actions: 'im.actions',
  receipts: 'im.receipts',
  fanout: 'fanout',
  rooms: 'im.rooms',
}
