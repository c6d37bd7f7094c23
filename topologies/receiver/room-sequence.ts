// Big groups read, small groups write — for delivery too. A group above the large-group
// threshold is sequenced per conversation (like Telegram's per-channel pts): each normal
// message gets the conversation's next `seq`, fixed once, and goes once to im.rooms for the
// push gateways to deliver to the member devices they hold. Nothing is written per member.
// An index (conversation, seq) -> log position lets a device pull exactly the gap it missed
// (key-layout.ts's seqIndexKey).

import { type ConversationMeta, isLargeGroup } from '../model/index.js'

/**
 * Whether a membership change moved the group across the threshold: its members' devices
 * switch between per-user PTS and the conversation's seq, so each is told once.
 */
export function crossedThreshold(
  before: ConversationMeta | undefined,
  after: ConversationMeta,
  threshold: number,
): 'large' | 'small' | undefined {
  if (!before) return undefined
  const was = isLargeGroup(before.memberCount, threshold)
  const is = isLargeGroup(after.memberCount, threshold)
  if (was === is) return undefined
  return is ? 'large' : 'small'
}
