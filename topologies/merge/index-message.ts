// A message's sender, learnt from its Accepted receipt (merge-index): where its read status
// goes. Receipts and reads travel different topics, so cursors may have passed a message
// before it is known here; then its read status is due in the window open now.

import type { Receipt } from '../../schemas/types.generated.js'
import type { ReadWriteStore } from '../../state/index.js'
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

export async function indexMessage(
  index: MessageIndex,
  receipt: Receipt,
  timestamp: number,
): Promise<void> {
  if (receipt.outcome.kind !== 'Accepted') return
  const { conversationId, senderId } = receipt
  const { msgId } = receipt.outcome
  const key = messageKey(conversationId, msgId)
  if ((await index.senders.get(key)) !== undefined) return // a retry's receipt, or a replay
  index.senders.put(key, Buffer.from(senderId))
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
