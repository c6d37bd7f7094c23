// A message's sender, learnt from its Accepted receipt (merge-index): where its read status
// goes. Receipts and reads travel different topics, so cursors may have passed a message
// before it is known here; then its read status is due in the window open now.

import type { Receipt } from '../../schemas/types.generated.js'
import type { KeyValueStore, ReadWriteStore } from '../../state/index.js'
import type { ConversationState } from '../receiver/index.js'
import { addInterval, type EmissionWindows } from './emission-windows.js'
import { messageKey } from './keys.js'
import { type ReadCursors, readCounts } from './read-cursors.js'

export interface MessageIndex {
  senders: ReadWriteStore
  cursors: ReadCursors
  histogram: ReadWriteStore
  conversations: ConversationState
  windows: EmissionWindows
  largeGroupThreshold: number
}

/**
 * Keeps an Accepted message's sender, once; true when it was not known. All that is written
 * to the senders store, from its receipt alone: the store's backfill fold too (merge.ts).
 */
export async function learnSender(
  senders: Pick<KeyValueStore<Buffer, Buffer>, 'get' | 'put'>,
  receipt: Receipt,
): Promise<boolean> {
  if (receipt.outcome.kind !== 'Accepted') return false
  const key = messageKey(receipt.conversationId, receipt.outcome.msgId)
  if ((await senders.get(key)) !== undefined) return false // a retry's receipt, or a replay
  senders.put(key, Buffer.from(receipt.senderId))
  return true
}

export async function indexMessage(
  index: MessageIndex,
  receipt: Receipt,
  timestamp: number,
): Promise<void> {
  if (!(await learnSender(index.senders, receipt)) || receipt.outcome.kind !== 'Accepted') return
  const { conversationId } = receipt
  const { msgId } = receipt.outcome
  const conversation = await index.conversations.get(conversationId)
  if (!conversation) return
  // Usually nobody has read past a message learnt just now: no scan then.
  if (!(await index.cursors.anyAtOrAfter(conversationId, msgId))) return
  const read = (await readCounts(index.histogram, conversationId, [msgId])).get(msgId) ?? 0
  if (read === 0) return
  const large = conversation.memberCount > index.largeGroupThreshold
  await index.windows.mark(conversationId, large, timestamp, (updates) => {
    updates.reads = addInterval(updates.reads, msgId, msgId)
  })
}
