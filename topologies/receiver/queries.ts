// Reads of the receiver's committed state for the API: membership, and the conversation's
// log of normal messages, newest first.

import { ImflowError } from '../../ops/errors.js'
import type { StoredMessage } from '../../schemas/types.generated.js'
import { prefixEnd } from '../../state/index.js'
import type { RunningTopology } from '../runtime/index.js'
import { partitionForKey } from '../runtime/partitioner.js'
import { memberKey } from './conversation-state.js'
import { decodeStoredMessage, STORES } from './receiver.js'

export class ReceiverQueries {
  constructor(private readonly receiver: RunningTopology) {}

  private store(conversationId: string, name: string) {
    const partition = partitionForKey(conversationId, this.receiver.partitions)
    const store = this.receiver.committedStore(partition, name)
    if (!store) {
      throw new ImflowError(
        'IMF_ERR_NOT_READY',
        `conversation ${conversationId} lives in partition ${partition}, which this instance does not serve right now`,
      )
    }
    return store
  }

  async isMember(conversationId: string, userId: string): Promise<boolean> {
    return (
      (await this.store(conversationId, STORES.members).get(memberKey(conversationId, userId))) !==
      undefined
    )
  }

  /** The conversation's log (normal messages), newest first, before `position`. */
  async *log(
    conversationId: string,
    before?: Buffer,
  ): AsyncGenerator<{ position: Buffer; message: StoredMessage }> {
    const prefix = Buffer.concat([Buffer.from(conversationId), Buffer.from([0])])
    const lt = before ? Buffer.concat([prefix, before]) : prefixEnd(prefix)
    for await (const [key, value] of this.store(conversationId, STORES.messages).range({
      gte: prefix,
      ...(lt ? { lt } : {}),
      reverse: true,
    })) {
      yield { position: key.subarray(prefix.length), message: decodeStoredMessage(value) }
    }
  }
}
