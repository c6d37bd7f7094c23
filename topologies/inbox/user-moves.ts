// A user whose home geo or home unit changes takes their inbox state along: their list rows go
// to the new home's inbound (each as a moved row it merges), then their private messages and
// deletions for themself (moved-entries.ts), and all of it leaves here, in the task's
// transaction; what still reaches this inbox for them afterwards follows (geo-move.ts has the
// row rules). Geos and units move the same way: only the inbound topic differs.

import type { EventCodec } from '../../schemas/codec.js'
import type { FanoutBatch, UserEvent } from '../../schemas/types.generated.js'
import { userPrefix } from '../model/index.js'
import {
  alwaysUp,
  type Forwarder,
  forwarder,
  type HomePlaces,
  homeName,
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
import type { InboxStores } from './apply-batch.js'
import { movedRowBatch, movedUsers } from './geo-move.js'
import { movedEntries } from './moved-entries.js'

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
}

/** The sinks of the other geos' and units' inbound topics. */
export function homeSinks(move: HomeMoveOptions | undefined): Record<string, { topic: string }> {
  const sink = (home: UserHome, topic: string) => [inboundSink(home), { topic }] as const
  return Object.fromEntries([
    ...Object.entries(move?.places.geos ?? {}).map(([geo, topic]) => sink({ geo }, topic)),
    ...Object.entries(move?.places.units ?? {}).map(([unit, topic]) => sink({ unit }, topic)),
  ])
}

export class UserMoves {
  private readonly moved: KeyValueStore<string, UserHome>
  private readonly forward: Forwarder
  /** Who moved away, read once (few users): a batch's recipients are looked up here. */
  private cache: Map<string, UserHome> | undefined

  constructor(
    context: ProcessorContext,
    private readonly move: HomeMoveOptions,
    private readonly codec: EventCodec<FanoutBatch>,
    private readonly stores: InboxStores,
  ) {
    this.moved = openStore(context, movedUsers)
    this.forward = forwarder(context, homeSinks(move), move.remoteTargets ?? alwaysUp)
    context.store(movedUsers.name).onRollback(() => {
      this.cache = undefined
    })
    context.schedule(UNPARK_EVERY_MS, 'wall-clock', () => this.forward.unpark())
  }

  private async movedAway(): Promise<Map<string, UserHome>> {
    if (!this.cache) {
      this.cache = new Map()
      for await (const [uid, home] of this.moved.range()) this.cache.set(uid, home)
    }
    return this.cache
  }

  /** A user homed in another geo or unit now: their rows go there and leave here. */
  async userMoved(record: InputRecord, user: UserEvent): Promise<void> {
    const { userId } = user
    const away = await this.movedAway()
    const home = userHome(user, this.move.places)
    if (!home) {
      this.moved.delete(userId)
      away.delete(userId)
      return
    }
    let rows = 0
    const prefix = userPrefix(userId)
    const { lists } = this.stores
    for await (const [key, row] of lists.prefix(prefix)) {
      const conversationId = key.subarray(prefix.length).toString()
      const sourceId = `moved:${userId}:${conversationId}:${record.offset}`
      await this.forward.send(inboundSink(home), {
        key: conversationId,
        value: this.codec.encode(movedRowBatch(userId, conversationId, row, sourceId)),
      })
      lists.delete(key)
      rows++
    }
    // The same kind of place as the new home names where they come from: this geo, this unit.
    const { places } = this.move
    const from = homeName(
      home.geo !== undefined ? { geo: places.geo } : { unit: String(places.unit) },
    )
    for await (const { key, batch, remove } of movedEntries(userId, this.stores, from)) {
      await this.forward.send(inboundSink(home), { key, value: this.codec.encode(batch) })
      remove()
      rows++
    }
    // Only users who leave from here are followed (not every user homed elsewhere, whom the
    // senders' receivers route away already): a small set, kept in memory.
    if (rows > 0 || away.has(userId)) {
      this.moved.put(userId, home)
      away.set(userId, home)
    }
  }

  /**
   * What still reaches this inbox for users who moved away goes after their rows; the rest of
   * the batch is applied here. Returns who is left here.
   */
  async redirect(record: InputRecord, batch: FanoutBatch): Promise<string[]> {
    const movedTo = await this.movedAway()
    // Handed off by this unit's receiver: its replica may have learnt of a move since (it is
    // usually ahead of this task's im.users), and is then followed; else who moved from here.
    const { userOf, places } = this.move
    const current = record.headers[VIA_INBOUND_HEADER] === undefined ? userOf : undefined
    if (movedTo.size === 0 && !current) return batch.recipients
    const homeOf = (userId: string) => {
      const user = current?.(userId)
      return user ? userHome(user, places) : movedTo.get(userId)
    }
    const { local, remote } = splitByHome(batch.recipients, homeOf)
    for (const { home, users } of remote.values()) {
      await this.forward.send(inboundSink(home), {
        key: record.key,
        value: this.codec.encode({ ...batch, partition: -1, recipients: users }),
      })
    }
    return local
  }
}
