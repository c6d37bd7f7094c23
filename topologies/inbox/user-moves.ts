// A user whose home geo or home unit changes takes their inbox state along: their list rows go
// to the new home's inbound (each as a moved row it merges), then their private messages and
// deletions for themself (moved-entries.ts), and all of it leaves here, in the task's
// transaction; what still reaches this inbox for them afterwards follows (geo-move.ts has the
// row rules). Geos and units move the same way: only the inbound topic differs.

import type { EventCodec } from '../../schemas/codec.js'
import type { FanoutBatch, UserEvent } from '../../schemas/types.generated.js'
import {
  alwaysUp,
  type Forwarder,
  forwarder,
  type HomePlaces,
  homeName,
  inboundHeaders,
  inboundSink,
  type RemoteTargets,
  splitByHome,
  UNPARK_EVERY_MS,
  type UserHome,
  userHome,
  VIA_INBOUND_HEADER,
} from '../receiver/index.js'
import {
  type InputRecord,
  type KeyValueStore,
  openStore,
  type ProcessorContext,
} from '../runtime/index.js'
import { conversationOf, type InboxStores } from './apply-batch.js'
import { movedUsers } from './geo-move.js'
import { type SendHome, UserExports } from './user-export.js'

export interface HomeMoveOptions {
  /** im.users (co-partitioned): users' home geos and units. */
  users: string
  userCodec: EventCodec<UserEvent>
  /** This geo and unit; the other geos' and units' inbound topics (geo or unit -> topic). */
  places: HomePlaces & {
    geos: Readonly<Record<string, string>>
    units: Readonly<Record<string, string>>
  }
  remoteTargets?: RemoteTargets
  /**
   * This instance's replica of im.users (the one the receivers split by): a record this unit's
   * receiver handed off here while the replica still had the user here follows them.
   */
  userOf?: (userId: string) => UserEvent | undefined
  /** JSON a moving user's state sends per transaction (default USER_EXPORT_CHARS; tests set less). */
  exportChars?: number
}

/** The sinks of the other geos' and units' inbound topics. */
export function homeSinks(move: HomeMoveOptions | undefined): Record<string, { topic: string }> {
  const sink = (home: UserHome, topic: string) => [inboundSink(home), { topic }] as const
  return Object.fromEntries([
    ...Object.entries(move?.places.geos ?? {}).map(([geo, topic]) => sink({ geo }, topic)),
    ...Object.entries(move?.places.units ?? {}).map(([unit, topic]) => sink({ unit }, topic)),
  ])
}

/**
 * A move this recent is followed even by an inbox that holds nothing of the user: hand-offs
 * sent here before it (by receivers whose replicas had not learnt of it) arrive within it.
 */
export const FOLLOW_NEW_MOVES_MS = 10 * 60_000

export class UserMoves {
  private readonly moved: KeyValueStore<string, UserHome>
  private readonly forward: Forwarder
  private readonly exports: UserExports
  /** Who moved away, read once (few users): a batch's recipients are looked up here. */
  private cache: Map<string, UserHome> | undefined

  constructor(
    private readonly context: ProcessorContext,
    private readonly move: HomeMoveOptions,
    private readonly codec: EventCodec<FanoutBatch>,
    stores: InboxStores,
  ) {
    this.moved = openStore(context, movedUsers)
    this.forward = forwarder(context, homeSinks(move), move.remoteTargets ?? alwaysUp)
    context.store(movedUsers.name).onRollback(() => {
      this.cache = undefined
    })
    context.schedule(UNPARK_EVERY_MS, 'wall-clock', () => this.forward.unpark())
    const send: SendHome = (home, record) =>
      this.forward.send(inboundSink(home), { ...record, headers: inboundHeaders(home) })
    this.exports = new UserExports(context, stores, codec, send, move.exportChars)
  }

  private async movedAway(): Promise<Map<string, UserHome>> {
    if (!this.cache) {
      this.cache = new Map()
      for await (const [uid, home] of this.moved.range()) this.cache.set(uid, home)
    }
    return this.cache
  }

  /**
   * A user homed in another geo or unit now: their rows, private messages and deletions go
   * there and leave here, in chunks (user-export.ts).
   */
  async userMoved(record: InputRecord, user: UserEvent): Promise<void> {
    const { userId } = user
    const away = await this.movedAway()
    const home = userHome(user, this.move.places)
    if (!home) {
      this.moved.delete(userId)
      away.delete(userId)
      await this.exports.stop(userId)
      return
    }
    const sent = await this.exports.start(userId, home, this.here(home), record.offset)
    // Only users who leave from here are followed (not every user homed elsewhere, whom the
    // senders' receivers route away already): a small set, kept in memory. And any user who
    // moved lately, though nothing of theirs is here yet: what a receiver handed off here just
    // before the move may still be on its way (a share of a group they had just joined).
    const lately = this.context.wallClock() - user.at < FOLLOW_NEW_MOVES_MS
    if (sent || away.has(userId) || lately) {
      this.moved.put(userId, home)
      away.set(userId, home)
    }
  }

  /** This geo or this unit, the same kind of place as `home`: where a user who moves there comes from. */
  private here(home: UserHome): string {
    const { places } = this.move
    return homeName(home.geo !== undefined ? { geo: places.geo } : { unit: String(places.unit) })
  }

  /**
   * What still reaches this inbox for users who moved away goes after their rows; the rest of
   * the batch is applied here. Returns who is left here.
   */
  async redirect(record: InputRecord, batch: FanoutBatch): Promise<string[]> {
    const movedTo = await this.movedAway()
    // Handed off by this unit's receiver: its replica may have learnt of a move since (it is
    // usually ahead of this task's im.users), and is then followed. From another geo, whose
    // receiver knows this geo but not its units: a user homed in another unit of it, by the
    // replica, gets it there. Else (or from another unit): who moved from here.
    const { userOf, places } = this.move
    const via = record.headers[VIA_INBOUND_HEADER]?.toString()
    const current = via === undefined || via === 'geo' ? userOf : undefined
    if (movedTo.size === 0 && !current) return batch.recipients
    const homeOf = (userId: string) => {
      const user = current?.(userId)
      if (!user) return movedTo.get(userId)
      const home = userHome(user, places)
      // Another geo, by this replica, for a share from another geo: the replicas disagree.
      return via === 'geo' && home?.geo !== undefined ? movedTo.get(userId) : home
    }
    const { local, remote } = splitByHome(batch.recipients, homeOf)
    const conversationId = conversationOf(batch)
    for (const { home, users } of remote.values()) {
      if (conversationId !== undefined)
        for (const userId of users) await this.exports.rowFirst(userId, conversationId)
      const { before, after } = this.splitByMoveTime(record, batch, users)
      const shares = [
        { ...batch, recipients: before, movedFrom: batch.movedFrom ?? this.here(home) },
        { ...batch, recipients: after },
      ]
      for (const share of shares) {
        if (share.recipients.length === 0) continue
        await this.forward.send(inboundSink(home), {
          key: record.key,
          value: this.codec.encode({ ...share, partition: -1 }),
          headers: inboundHeaders(home),
        })
      }
    }
    return local
  }

  /**
   * A new message handed off here before its recipient's home was set elsewhere: this unit's
   * sync had it for the stream the move ended (or drops it now), and a device that follows the
   * user there reloads it, so the new home takes it as history (its sync never sequences a
   * movedFrom hand-off); else the user would be pushed it a second time there. Handed off
   * after (a receiver whose replica had not learnt of the move yet sent it here), or any other
   * event (a second copy of a state change is harmless; a join must reach the new stream):
   * news there.
   */
  private splitByMoveTime(
    record: InputRecord,
    batch: FanoutBatch,
    users: readonly string[],
  ): { before: string[]; after: string[] } {
    if (batch.event.payload.kind !== 'NewMessage' || !this.move.userOf)
      return { before: [], after: [...users] }
    const before: string[] = []
    const after: string[] = []
    for (const userId of users) {
      const movedAt = this.move.userOf(userId)?.at ?? 0
      if (record.timestamp < movedAt) before.push(userId)
      else after.push(userId)
    }
    return { before, after }
  }
}
