// The receiver's view of conversations, kept in its (conversation-keyed) task from
// im.conversations: one small record per conversation, and one key per membership, so a
// check is a point lookup however large the group.

import type { ConversationEvent } from '../../schemas/types.generated.js'
import {
  type KeyValueStore,
  type MaybePromise,
  type ReadWriteStore,
  typedStore,
} from '../../state/index.js'
import { type ConversationMeta, memberKey, type Role, receiverStores } from '../model/index.js'

export interface MembershipDelta {
  joined: string[]
  left: string[]
}

/** Member lists kept in memory, least recently used out first: hot groups fan out without a scan. */
const MEMBER_LISTS_CACHED = 2_000

export class ConversationState {
  private readonly meta: KeyValueStore<string, ConversationMeta>
  private readonly memberLists = new Map<string, string[]>()

  constructor(
    metaStore: ReadWriteStore,
    private readonly memberships: ReadWriteStore,
  ) {
    // A list read while a transaction changed members must not outlive its rollback.
    memberships.onRollback(() => this.memberLists.clear())
    // The same encoding the API's queries read it with (the store's declaration).
    const { keys, values } = receiverStores.conversations
    this.meta = typedStore(metaStore, keys, values)
  }

  get(conversationId: string): MaybePromise<ConversationMeta | undefined> {
    return this.meta.get(conversationId)
  }

  /** Reads ahead what get() and role() will ask (see ReadWriteStore.prefetch); role only with a sender. */
  async prefetch(asks: readonly { conversationId: string; senderId?: string }[]): Promise<void> {
    await Promise.all([
      this.meta.prefetch(asks.map((a) => a.conversationId)),
      this.memberships.prefetch(
        asks.flatMap((a) =>
          a.senderId === undefined ? [] : [memberKey(a.conversationId, a.senderId)],
        ),
      ),
    ])
  }

  async role(conversationId: string, userId: string): Promise<Role | undefined> {
    const value = await this.memberships.get(memberKey(conversationId, userId))
    return value === undefined ? undefined : value[0] === 1 ? 'admin' : 'member'
  }

  /**
   * Applies one conversation event and says who joined or left; events for unknown
   * conversations (other than creation) are ignored.
   */
  async apply(event: ConversationEvent): Promise<MembershipDelta> {
    const { conversationId, change } = event
    this.memberLists.delete(conversationId)
    const meta = await this.meta.get(conversationId)
    const none: MembershipDelta = { joined: [], left: [] }
    switch (change.kind) {
      case 'ConversationCreated': {
        if (meta) return none // created once; a replayed creation changes nothing
        const admins = new Set(change.admins)
        const members = new Set([...change.members, ...change.admins])
        for (const userId of members)
          this.setRole(conversationId, userId, admins.has(userId) ? 'admin' : 'member')
        this.meta.put(conversationId, {
          type: change.conversationType,
          muted: false,
          unit: change.unit,
          memberCount: members.size,
        })
        return { joined: [...members], left: [] }
      }
      case 'MembersAdded': {
        if (!meta) return none
        const joined: string[] = []
        for (const userId of new Set(change.userIds)) {
          if ((await this.role(conversationId, userId)) === undefined) {
            this.setRole(conversationId, userId, 'member')
            joined.push(userId)
          }
        }
        this.meta.put(conversationId, { ...meta, memberCount: meta.memberCount + joined.length })
        return { joined, left: [] }
      }
      case 'MembersRemoved': {
        if (!meta) return none
        const left: string[] = []
        for (const userId of new Set(change.userIds)) {
          if ((await this.role(conversationId, userId)) !== undefined) {
            this.memberships.delete(memberKey(conversationId, userId))
            left.push(userId)
          }
        }
        this.meta.put(conversationId, { ...meta, memberCount: meta.memberCount - left.length })
        return { joined: [], left }
      }
      case 'MuteChanged':
        if (meta) this.meta.put(conversationId, { ...meta, muted: change.muted })
        return none
      case 'UnitChanged':
        if (meta) this.meta.put(conversationId, { ...meta, unit: change.unit })
        return none
    }
  }

  /**
   * Forgets every member (the conversation is kept, with no member): what a unit kept of a
   * conversation it only routed, replaced by its old home's roster when it is handed over.
   */
  async forgetMembers(conversationId: string): Promise<void> {
    const meta = await this.meta.get(conversationId)
    if (!meta) return
    this.memberLists.delete(conversationId)
    const keys: Buffer[] = []
    for await (const [key] of this.memberships.prefix(memberKey(conversationId, ''))) keys.push(key)
    for (const key of keys) this.memberships.delete(key)
    this.meta.put(conversationId, { ...meta, memberCount: 0 })
  }

  /** The conversation's next seq, taken now (the caller sequences a large group's message). */
  nextSeq(conversationId: string, meta: ConversationMeta): number {
    const seq = (meta.seq ?? 0) + 1
    this.meta.put(conversationId, { ...meta, seq })
    return seq
  }

  /** Sets the conversation's seq (a moved conversation goes on from its old home's). */
  setSeq(conversationId: string, meta: ConversationMeta, seq: number): void {
    this.meta.put(conversationId, { ...meta, seq })
  }

  /** Every member (for fan-out; never for a membership check): a prefix scan, cached. */
  async members(conversationId: string): Promise<string[]> {
    const cached = this.memberLists.get(conversationId)
    if (cached) {
      this.memberLists.delete(conversationId)
      this.memberLists.set(conversationId, cached)
      return cached
    }
    const prefix = memberKey(conversationId, '')
    const list: string[] = []
    for await (const [key] of this.memberships.prefix(prefix))
      list.push(key.subarray(prefix.length).toString())
    this.memberLists.set(conversationId, list)
    if (this.memberLists.size > MEMBER_LISTS_CACHED) {
      this.memberLists.delete(this.memberLists.keys().next().value as string)
    }
    return list
  }

  /** Every member with their role (to hand a conversation to another unit): a prefix scan. */
  async roster(conversationId: string): Promise<{ members: string[]; admins: string[] }> {
    const prefix = memberKey(conversationId, '')
    const members: string[] = []
    const admins: string[] = []
    for await (const [key, value] of this.memberships.prefix(prefix)) {
      const userId = key.subarray(prefix.length).toString()
      members.push(userId)
      if (value[0] === 1) admins.push(userId)
    }
    return { members, admins }
  }

  private setRole(conversationId: string, userId: string, role: Role): void {
    this.memberships.put(memberKey(conversationId, userId), Buffer.from([role === 'admin' ? 1 : 0]))
  }
}
