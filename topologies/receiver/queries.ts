// Reads of the receiver's committed state for the API: membership and the conversation's
// log (history roaming for normal messages), newest first, cursor-paged. A cursor names a
// position in the log, so a page stays stable while new messages keep arriving.

import { ImflowError } from '../../ops/errors.js'
import type { StoredMessage } from '../../schemas/types.generated.js'
import { prefixEnd } from '../../state/index.js'
import type { RunningTopology } from '../runtime/index.js'
import { partitionForKey } from '../runtime/partitioner.js'
import { memberKey } from './conversation-state.js'
import { decodeStoredMessage, STORES } from './receiver.js'

export interface HistoryPage {
  messages: StoredMessage[]
  /** Pass as `before` for the next (older) page; null at the beginning of the conversation. */
  next: string | null
}

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

  async history(
    conversationId: string,
    options: { before?: string | undefined; limit: number },
  ): Promise<HistoryPage> {
    const prefix = Buffer.concat([Buffer.from(conversationId), Buffer.from([0])])
    let lt = prefixEnd(prefix)
    if (options.before) {
      const position = Buffer.from(options.before, 'base64url')
      if (position.length < 9)
        throw new ImflowError('IMF_ERR_BAD_REQUEST', 'before is not a cursor this API gave out')
      lt = Buffer.concat([prefix, position])
    }
    const messages: StoredMessage[] = []
    let last: Buffer | undefined
    for await (const [key, value] of this.store(conversationId, STORES.messages).range({
      gte: prefix,
      ...(lt ? { lt } : {}),
      reverse: true,
    })) {
      messages.push(decodeStoredMessage(value))
      last = key
      if (messages.length === options.limit) break
    }
    const next =
      messages.length === options.limit && last
        ? last.subarray(prefix.length).toString('base64url')
        : null
    return { messages, next }
  }
}
