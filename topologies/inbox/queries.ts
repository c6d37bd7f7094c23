// Reads of the inbox's committed state for the API: a user's private messages in a
// conversation (newest first) and their delete-for-me markers.

import { ImflowError } from '../../ops/errors.js'
import type { StoredMessage } from '../../schemas/types.generated.js'
import { prefixEnd } from '../../state/index.js'
import { decodeStoredMessage } from '../receiver/index.js'
import type { RunningTopology } from '../runtime/index.js'
import { partitionForKey } from '../runtime/partitioner.js'
import { deletedKey, INBOX_STORES, inboxPrefix } from './inbox.js'

/** A message and its position in a log: createdAt (8 bytes) then msgId — comparable across logs. */
export interface Positioned {
  position: Buffer
  message: StoredMessage
}

export class InboxQueries {
  constructor(private readonly inbox: RunningTopology) {}

  private store(userId: string, name: string) {
    const partition = partitionForKey(userId, this.inbox.partitions)
    const store = this.inbox.committedStore(partition, name)
    if (!store) {
      throw new ImflowError(
        'IMF_ERR_NOT_READY',
        `the inbox of ${userId} (partition ${partition}) is not served here right now`,
      )
    }
    return store
  }

  /** The user's private messages in the conversation, newest first, before `position`. */
  async *privateMessages(
    userId: string,
    conversationId: string,
    before?: Buffer,
  ): AsyncGenerator<Positioned> {
    const prefix = inboxPrefix(userId, conversationId)
    const lt = before ? Buffer.concat([prefix, before]) : prefixEnd(prefix)
    for await (const [key, value] of this.store(userId, INBOX_STORES.inbox).range({
      gte: prefix,
      ...(lt ? { lt } : {}),
      reverse: true,
    })) {
      yield { position: key.subarray(prefix.length), message: decodeStoredMessage(value) }
    }
  }

  async deletedForMe(userId: string, conversationId: string, msgId: string): Promise<boolean> {
    return (
      (await this.store(userId, INBOX_STORES.deleted).get(
        deletedKey(userId, conversationId, msgId),
      )) !== undefined
    )
  }
}
