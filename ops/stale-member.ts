// A consumer kafkajs restarts after a crash (a broker killed under it: the join that follows
// fails and kafkajs gives up on that consumer group object) joins as a new member, and the
// coordinator, which reloads the group with the old member in it, holds the new member's join
// until the old one's session expires: seconds of nothing for every group, after the broker is
// long back. The old member is ours and gone, so it is removed at once (LeaveGroup on its
// behalf), and the rebalance completes as soon as the new member has joined.
//
// kafkajs has no public call for this (KIP-345's removal is admin-side in the Java client);
// its cluster has, reached through the client's own factory. Without it (another client
// version), nothing is done and the group waits out the session as before.

import type { Consumer, Kafka } from 'kafkajs'
import { clusterFactory } from './kafkajs-cluster.js'
import type { Logger } from './log.js'

/** The member is gone from the group (removed now, or already expired or left). */
function isGone(err: unknown): boolean {
  return /UNKNOWN_MEMBER_ID|not aware of this member|unknown member/i.test(
    `${(err as { type?: string }).type ?? ''} ${String(err)}`,
  )
}

const RETRY = { firstMs: 250, maxMs: 2_000, forMs: 120_000 }

/** Removes a member of a group, retrying through an outage for up to two minutes. */
export async function removeMember(
  kafka: Kafka,
  groupId: string,
  memberId: string,
  log: Logger,
): Promise<boolean> {
  const create = clusterFactory(kafka)
  if (!create) return false
  const giveUpAt = Date.now() + RETRY.forMs
  for (let delay = RETRY.firstMs; ; delay = Math.min(RETRY.maxMs, delay * 2)) {
    const cluster = create({ allowAutoTopicCreation: false })
    try {
      await cluster.connect()
      const coordinator = await cluster.findGroupCoordinator({ groupId })
      await coordinator.leaveGroup({ groupId, memberId })
      log.info('removed the member a crashed consumer left in its group', { groupId, memberId })
      return true
    } catch (err) {
      if (isGone(err)) return true
      if (Date.now() >= giveUpAt) {
        log.warn('could not remove a crashed consumer’s member; the group waits out its session', {
          groupId,
          memberId,
          error: String(err),
        })
        return false
      }
    } finally {
      await cluster.disconnect().catch(() => {})
    }
    await new Promise((r) => setTimeout(r, delay))
  }
}

/**
 * After each crash of the consumer, removes the member it was (see the header), so its
 * restart (by kafkajs, or by the caller with a new consumer) is assigned without waiting.
 */
export function removeMemberOnCrash(
  kafka: Kafka,
  consumer: Consumer,
  groupId: string,
  log: Logger,
): void {
  let memberId: string | undefined
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    memberId = payload.memberId
  })
  consumer.on(consumer.events.CRASH, () => {
    const stale = memberId
    memberId = undefined
    if (stale) void removeMember(kafka, groupId, stale, log)
  })
}
