// Where a large group's room event goes besides here: the other geos and units its members are
// homed in. Finding them is a pass over the member list — 10,000 look-ups for a 10,000-member
// group, milliseconds — too much for every message of the group (its one task's whole budget).
// So the answer is kept per conversation while its member list is the same (the receiver's
// cached list: a membership change makes a new one) and for at most a second: a member whose
// home just changed gets the room events at the new home at most that much later. Room events
// are pushes to online devices; a device that misses one pulls it (docs/sync.md).

import type { UserHome } from './user-home.js'
import { splitByHome } from './user-home.js'

/** How long a conversation's member homes are kept. */
export const ROOM_HOMES_KEPT_MS = 1_000
/** Conversations whose member homes are kept at most (the busiest large groups). */
const KEPT_MAX = 1_000

interface Kept {
  members: readonly string[]
  at: number
  homes: UserHome[]
}

export class RoomHomes {
  private readonly kept = new Map<string, Kept>()

  constructor(
    private readonly homeOf: (userId: string) => UserHome | undefined,
    private readonly clock: () => number,
  ) {}

  /** The other homes of the members and of those who just left (never kept: rare). */
  of(conversationId: string, members: readonly string[], removed: readonly string[]): UserHome[] {
    if (removed.length > 0) return this.find([...members, ...removed])
    const now = this.clock()
    const hit = this.kept.get(conversationId)
    if (hit && hit.members === members && now - hit.at < ROOM_HOMES_KEPT_MS) return hit.homes
    const homes = this.find(members)
    this.kept.delete(conversationId)
    this.kept.set(conversationId, { members, at: now, homes })
    if (this.kept.size > KEPT_MAX) this.kept.delete(this.kept.keys().next().value as string)
    return homes
  }

  private find(users: readonly string[]): UserHome[] {
    return [...splitByHome(users, this.homeOf).remote.values()].map((share) => share.home)
  }
}
