// What the merge reads for a slice's records, read ahead at once (Processor.prefetch): a
// message's sender entry and conversation; an action's conversation, the actor's membership,
// and for a read receipt the reader's cursor and the histogram cell it moves to.

import { isMsgId } from '../../schemas/msg-id.js'
import type { Action, Receipt } from '../../schemas/types.generated.js'
import type { ReadWriteStore } from '../../state/index.js'
import type { ConversationState } from '../receiver/index.js'
import { messageKey, userKey } from './keys.js'

export interface ReadAheadStores {
  conversations: ConversationState
  senders: ReadWriteStore
  cursors: ReadWriteStore
  histogram: ReadWriteStore
}

export async function readAhead(
  stores: ReadAheadStores,
  receipts: readonly Receipt[],
  actions: readonly Action[],
): Promise<void> {
  const accepted = receipts.flatMap((r) =>
    r.outcome.kind === 'Accepted'
      ? [{ conversationId: r.conversationId, msgId: r.outcome.msgId }]
      : [],
  )
  const reads = actions.flatMap((a) =>
    a.action.kind === 'ReadReceipt' && isMsgId(a.action.upToMsgId)
      ? [{ ...a, upTo: a.action.upToMsgId }]
      : [],
  )
  await Promise.all([
    stores.conversations.prefetch([
      ...accepted.map((m) => ({ conversationId: m.conversationId })),
      ...actions.map((a) => ({ conversationId: a.conversationId, senderId: a.userId })),
    ]),
    stores.senders.prefetch(
      accepted.filter((m) => isMsgId(m.msgId)).map((m) => messageKey(m.conversationId, m.msgId)),
    ),
    stores.cursors.prefetch(reads.map((r) => userKey(r.conversationId, r.userId))),
    stores.histogram.prefetch(reads.map((r) => messageKey(r.conversationId, r.upTo))),
  ])
}
