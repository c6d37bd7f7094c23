// A message as the stores keep it (the conversation log, inboxes): its Avro body without the
// wire header, written and read with today's StoredMessage schema.

import type avsc from 'avsc'
import { readerType } from '../../schemas/codec.js'
import type { StoredMessage } from '../../schemas/types.generated.js'
import type { Serde } from '../../state/index.js'

const stored = readerType('StoredMessage') as avsc.Type

export function encodeStoredMessage(message: StoredMessage): Buffer {
  return stored.toBuffer(message)
}

export function decodeStoredMessage(bytes: Buffer): StoredMessage {
  return stored.fromBuffer(bytes) as StoredMessage
}

/** The codec as a store's value serde. */
export const storedMessageSerde: Serde<StoredMessage> = {
  serialize: encodeStoredMessage,
  deserialize: decodeStoredMessage,
}
