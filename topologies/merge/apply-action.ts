// An action applied to the totals, exactly once, and the change marked in its window: a read
// receipt moves the reader's cursor (forward only); a reaction adds to or removes from the
// message's set. A receipt that moves nothing, a reaction already there, or a removal of a
// reaction never added changes nothing and marks nothing; an action by a non-member is left
// to the caller (it may be a member the merge does not know yet).

import { ImflowError } from '../../ops/errors.js'
import type { MergeMetrics } from '../../ops/metrics.js'
import { isMsgId } from '../../schemas/msg-id.js'
import type { Action } from '../../schemas/types.generated.js'
import type { ConversationState } from '../receiver/index.js'
import { addInterval, type EmissionWindows, newlyReadFrom } from './emission-windows.js'
import { emojiProblem, type Reactions } from './reactions.js'
import type { ReadCursors } from './read-cursors.js'

export interface Totals {
  conversations: ConversationState
  cursors: ReadCursors
  reactions: Reactions
  windows: EmissionWindows
  largeGroupThreshold: number
  metrics?: MergeMetrics | undefined
}

function checkMsgId(msgId: string): void {
  if (!isMsgId(msgId))
    throw new ImflowError('IMF_ERR_INVALID_ACTION', `${JSON.stringify(msgId)} is not a message id`)
}

/** False when the merge does not count the sender a member: nothing was applied. */
export async function applyAction(
  totals: Totals,
  action: Action,
  timestamp: number,
): Promise<boolean> {
  const { conversationId, userId } = action
  const { metrics } = totals
  const change = action.action
  if (change.kind === 'DeletedForMe') return true // the inbox's business
  if (change.kind === 'ReactionChanged') {
    checkMsgId(change.msgId)
    const problem = emojiProblem(change.emoji)
    if (problem)
      throw new ImflowError('IMF_ERR_INVALID_ACTION', `${problem}: ${JSON.stringify(change.emoji)}`)
  } else {
    checkMsgId(change.upToMsgId)
  }
  const conversation = await totals.conversations.get(conversationId)
  const member = conversation && (await totals.conversations.role(conversationId, userId))
  const counter = change.kind === 'ReadReceipt' ? metrics?.receiptsIn : metrics?.reactionsIn
  if (!conversation || !member) return false
  const large = conversation.memberCount > totals.largeGroupThreshold
  const size = large ? 'large' : 'small'
  let late = false
  if (change.kind === 'ReadReceipt') {
    const move = await totals.cursors.move(conversationId, userId, change.upToMsgId)
    counter?.inc({ outcome: move ? 'counted' : 'stale' })
    if (!move) return true
    // Unmerged, each receipt would be one update to the sender of what it covers.
    metrics?.naiveUpdates.inc({ kind: 'read_status' })
    const lo = newlyReadFrom(move.from)
    late = await totals.windows.mark(conversationId, large, timestamp, (updates) => {
      updates.reads = addInterval(updates.reads, lo, move.to)
      if (large) return
      const had = updates.readers[userId]
      updates.readers[userId] = [had?.[0] ?? lo, move.to]
    })
  } else {
    const changed = await totals.reactions.apply(
      conversationId,
      userId,
      change.msgId,
      change.emoji,
      change.op,
    )
    counter?.inc({ outcome: changed ? 'changed' : 'unchanged' })
    if (!changed) return true
    // Unmerged, each reaction would be one update to every member.
    metrics?.naiveUpdates.inc({ kind: 'reaction_summary' }, conversation.memberCount)
    late = await totals.windows.mark(conversationId, large, timestamp, (updates) => {
      if (!updates.reactions.includes(change.msgId)) updates.reactions.push(change.msgId)
    })
  }
  if (late) metrics?.lateRecords.inc({ size })
  return true
}

/** Counts an action dropped as a non-member's. */
export function countNotMember(metrics: MergeMetrics | undefined, action: Action): void {
  const counter = action.action.kind === 'ReadReceipt' ? metrics?.receiptsIn : metrics?.reactionsIn
  counter?.inc({ outcome: 'not_member' })
}
