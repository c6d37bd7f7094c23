// Actions whose sender the merge does not count a member yet. Kafka orders no two topics: a
// read receipt or a reaction sent just after its sender joined (the API checked the membership
// with the receiver, which had committed it) can reach the merge before the im.conversations
// record that adds her. Such an action waits here and is applied when a conversation event
// makes her a member; one still waiting after ACTION_MEMBER_WAIT_MS is a non-member's and is
// dropped, as any other.

import type { Action } from '../../schemas/types.generated.js'
import type { ReadWriteStore } from '../../state/index.js'
import { prefixEnd } from '../../state/index.js'
import { applyAction, countNotMember, type Totals } from './apply-action.js'

/** How long an action waits for its sender's membership (wall clock, ms). */
export const ACTION_MEMBER_WAIT_MS = 60_000
/** Expired actions dropped per call at most: the rest go with the next call. */
const EXPIRE_BATCH = 1_000
/** How often waiting actions are checked for their deadline (ms). */
const EXPIRE_EVERY_MS = 1_000

const BY_CONVERSATION = Buffer.from([1])
const BY_DEADLINE = Buffer.from([2])

interface Waiting {
  action: Action
  deadline: number
}

/** 1, cid, 0: one conversation's waiting actions. */
function conversationPrefix(conversationId: string): Buffer {
  return Buffer.concat([BY_CONVERSATION, Buffer.from(conversationId), Buffer.from([0])])
}

/** 1, cid, 0, userId, 0, the record's offset (8 bytes). */
function entryKey(action: Action, offset: string): Buffer {
  const seq = Buffer.alloc(8)
  seq.writeBigUInt64BE(BigInt(offset))
  const user = Buffer.from(`${action.userId}\u0000`)
  return Buffer.concat([conversationPrefix(action.conversationId), user, seq])
}

/** 2, deadline (8 bytes), entry key: the same action, by when it expires. */
function deadlineKey(deadline: number, entry: Buffer): Buffer {
  const at = Buffer.alloc(8)
  at.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(deadline))))
  return Buffer.concat([BY_DEADLINE, at, entry])
}

const offsetOf = (entry: Buffer) => entry.readBigUInt64BE(entry.length - 8)

export class ActionsAwaitingMember {
  /** False only once the store was seen empty and nothing was parked since. */
  private maybeAny = true

  constructor(private readonly store: ReadWriteStore) {
    // A rollback may bring back what a scan saw gone.
    store.onRollback(() => {
      this.maybeAny = true
    })
  }

  /** Keeps the action of the record at `offset` until its sender is a member, or past `now` + the wait. */
  park(action: Action, offset: string, now: number): void {
    const entry = entryKey(action, offset)
    const waiting: Waiting = { action, deadline: now + ACTION_MEMBER_WAIT_MS }
    this.store.put(entry, Buffer.from(JSON.stringify(waiting)))
    this.store.put(deadlineKey(waiting.deadline, entry), entry)
    this.maybeAny = true
  }

  /** The conversation's waiting actions whose senders are members now, in the order they came. */
  async release(
    conversationId: string,
    isMember: (userId: string) => Promise<boolean>,
  ): Promise<Action[]> {
    if (!this.maybeAny) return []
    const found: [Buffer, Waiting][] = []
    for await (const [entry, value] of this.store.prefix(conversationPrefix(conversationId)))
      found.push([entry, JSON.parse(value.toString()) as Waiting])
    const released: [Buffer, Waiting][] = []
    for (const [entry, waiting] of found)
      if (await isMember(waiting.action.userId)) released.push([entry, waiting])
    for (const [entry, waiting] of released) this.forget(entry, waiting.deadline)
    released.sort(([a], [b]) => (offsetOf(a) < offsetOf(b) ? -1 : 1))
    return released.map(([, waiting]) => waiting.action)
  }

  /** The actions whose wait ended by `now` (at most EXPIRE_BATCH): they wait no more. */
  async expire(now: number): Promise<Action[]> {
    if (!this.maybeAny) return []
    const end = prefixEnd(BY_DEADLINE)
    const due: [Buffer, Buffer][] = []
    let waiting = false
    for await (const [key, entry] of this.store.range({
      gte: BY_DEADLINE,
      ...(end && { lt: end }),
    })) {
      waiting = true
      if (key.readBigUInt64BE(1) > BigInt(Math.floor(now)) || due.length >= EXPIRE_BATCH) break
      due.push([key, entry])
    }
    if (!waiting) this.maybeAny = false
    const expired: Action[] = []
    for (const [key, entry] of due) {
      const value = await this.store.get(entry)
      this.store.delete(key)
      this.store.delete(entry)
      if (value) expired.push((JSON.parse(value.toString()) as Waiting).action)
    }
    return expired
  }

  private forget(entry: Buffer, deadline: number): void {
    this.store.delete(entry)
    this.store.delete(deadlineKey(deadline, entry))
  }
}

/** The merge's actions, applied now or once their senders are members. */
export function actionsOnMembership(totals: Totals, store: ReadWriteStore) {
  const awaiting = new ActionsAwaitingMember(store)
  const { conversations, metrics } = totals
  let expiredAt = Number.NEGATIVE_INFINITY
  return {
    /** A record's action; kept waiting if its sender is not known a member. */
    async apply(
      action: Action,
      record: { timestamp: number; offset: string },
      now: number,
    ): Promise<void> {
      if (await applyAction(totals, action, record.timestamp)) return
      awaiting.park(action, record.offset, now)
      metrics?.awaitingMember.inc({ outcome: 'parked' })
    },
    /** After a conversation event: the actions of senders it made members. */
    async membershipChanged(conversationId: string, timestamp: number): Promise<void> {
      const isMember = async (userId: string) =>
        (await conversations.role(conversationId, userId)) !== undefined
      for (const action of await awaiting.release(conversationId, isMember)) {
        await applyAction(totals, action, timestamp)
        metrics?.awaitingMember.inc({ outcome: 'applied' })
      }
    },
    /** Drops (as non-members') the actions whose wait ended; checked once per EXPIRE_EVERY_MS. */
    async expire(now: number): Promise<void> {
      if (now - expiredAt < EXPIRE_EVERY_MS) return
      expiredAt = now
      for (const action of await awaiting.expire(now)) {
        countNotMember(metrics, action)
        metrics?.awaitingMember.inc({ outcome: 'expired' })
      }
    },
  }
}
