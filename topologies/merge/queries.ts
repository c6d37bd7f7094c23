// Reads of the merge's committed totals for the API: who has read a message and its
// reactions — exact as of the last committed transaction, ahead of the merged pushes.

import { ImflowError } from '../../ops/errors.js'
import { compareMsgIds } from '../../schemas/msg-id.js'
import type { RunningTopology } from '../runtime/index.js'
import { conversationPrefix, conversationRange, messageKey, userKey } from './keys.js'
import { MERGE_STORES } from './merge.js'
import { type ReactionTotals, reactionsOf } from './reactions.js'
import { cursorOf, readCounts, readersOf } from './read-cursors.js'

export interface ReadTotals {
  conversationId: string
  msgId: string
  senderId: string
  /** Members other than the sender whose read cursor is at or after the message. */
  read: number
  /** Members other than the sender who have not. */
  unread: number
  /** Groups up to the large-group threshold: who. */
  readers?: string[]
  unreadMembers?: string[]
}

interface Meta {
  memberCount: number
}

export class MergeQueries {
  constructor(
    private readonly merge: RunningTopology,
    private readonly largeGroupThreshold: number,
  ) {}

  private store(conversationId: string, name: string) {
    return this.merge.committedStoreForKey(conversationId, name)
  }

  private async isMember(conversationId: string, userId: string): Promise<boolean> {
    const members = this.store(conversationId, MERGE_STORES.members)
    return (await members.get(userKey(conversationId, userId))) !== undefined
  }

  private async meta(conversationId: string): Promise<Meta | undefined> {
    const bytes = await this.store(conversationId, MERGE_STORES.conversations).get(
      Buffer.from(conversationId),
    )
    return bytes === undefined ? undefined : (JSON.parse(bytes.toString()) as Meta)
  }

  /** The message's sender; IMF_ERR_NOT_FOUND when the merge has not (yet) learnt of it. */
  private async sender(conversationId: string, msgId: string): Promise<string> {
    const bytes = await this.store(conversationId, MERGE_STORES.senders).get(
      messageKey(conversationId, msgId),
    )
    if (bytes === undefined)
      throw new ImflowError('IMF_ERR_NOT_FOUND', `no message ${msgId} in ${conversationId}`)
    return bytes.toString()
  }

  async reads(conversationId: string, msgId: string): Promise<ReadTotals> {
    const senderId = await this.sender(conversationId, msgId)
    const memberCount = (await this.meta(conversationId))?.memberCount ?? 0
    const cursors = this.store(conversationId, MERGE_STORES.cursors)
    const histogram = this.store(conversationId, MERGE_STORES.histogram)
    const all = (await readCounts(histogram, conversationId, [msgId])).get(msgId) ?? 0
    const own = await cursorOf(cursors, conversationId, senderId)
    const read = all - (own !== undefined && compareMsgIds(own, msgId) >= 0 ? 1 : 0)
    const senderIsMember = await this.isMember(conversationId, senderId)
    const totals: ReadTotals = {
      conversationId,
      msgId,
      senderId,
      read,
      unread: Math.max(0, memberCount - (senderIsMember ? 1 : 0) - read),
    }
    if (memberCount > this.largeGroupThreshold) return totals
    const readers = (await readersOf(cursors, conversationId, msgId)).filter((u) => u !== senderId)
    const seen = new Set([...readers, senderId])
    const unreadMembers: string[] = []
    const prefix = conversationPrefix(conversationId)
    const members = this.store(conversationId, MERGE_STORES.members)
    for await (const [key] of members.range(conversationRange(conversationId))) {
      const userId = key.subarray(prefix.length).toString()
      if (!seen.has(userId)) unreadMembers.push(userId)
    }
    return { ...totals, readers, unreadMembers }
  }

  async reactions(
    conversationId: string,
    msgId: string,
  ): Promise<ReactionTotals & { conversationId: string; msgId: string }> {
    const memberCount = (await this.meta(conversationId))?.memberCount ?? 0
    const totals = await reactionsOf(
      this.store(conversationId, MERGE_STORES.reactions),
      conversationId,
      msgId,
      memberCount <= this.largeGroupThreshold,
    )
    return { conversationId, msgId, ...totals }
  }
}
