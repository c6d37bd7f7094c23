// A user whose home geo changes takes their list rows along: the rows go to the new geo
// (each as a moved row it merges) and leave here, in the task's transaction; what still
// reaches this inbox for them afterwards follows the rows (geo-move.ts has the row rules).

import type { EventCodec } from '../../schemas/codec.js'
import type { FanoutBatch, UserEvent } from '../../schemas/types.generated.js'
import { type ListRow, userPrefix } from '../model/index.js'
import {
  alwaysUp,
  type Forwarder,
  forwarder,
  type RemoteTargets,
  UNPARK_EVERY_MS,
} from '../receiver/index.js'
import {
  type InputRecord,
  type KeyValueStore,
  openStore,
  type ProcessorContext,
} from '../runtime/index.js'
import { movedRowBatch, movedUsers } from './geo-move.js'

export interface GeoMoveOptions {
  /** im.users (co-partitioned): users' home geos. */
  users: string
  userCodec: EventCodec<UserEvent>
  local: string
  /** Remote geo -> its inbound topic. */
  inbound: Readonly<Record<string, string>>
  remoteTargets?: RemoteTargets
}

/** The sinks of the other geos' inbound topics. */
export function geoSinks(move: GeoMoveOptions | undefined): Record<string, { topic: string }> {
  return Object.fromEntries(
    Object.entries(move?.inbound ?? {}).map(([geo, topic]) => [`geo:${geo}`, { topic }]),
  )
}

export class UserMoves {
  private readonly moved: KeyValueStore<string, { geo: string }>
  private readonly forward: Forwarder
  /** Who moved away, read once (few users): a batch's recipients are looked up here. */
  private cache: Map<string, string> | undefined

  constructor(
    context: ProcessorContext,
    private readonly move: GeoMoveOptions,
    private readonly codec: EventCodec<FanoutBatch>,
    private readonly lists: KeyValueStore<Buffer, ListRow>,
  ) {
    this.moved = openStore(context, movedUsers)
    this.forward = forwarder(context, geoSinks(move), move.remoteTargets ?? alwaysUp)
    context.store(movedUsers.name).onRollback(() => {
      this.cache = undefined
    })
    context.schedule(UNPARK_EVERY_MS, 'wall-clock', () => this.forward.unpark())
  }

  private async movedAway(): Promise<Map<string, string>> {
    if (!this.cache) {
      this.cache = new Map()
      for await (const [uid, { geo }] of this.moved.range()) this.cache.set(uid, geo)
    }
    return this.cache
  }

  /** A user homed in another geo now: their rows go there and leave here. */
  async userMoved(record: InputRecord, { userId, geo }: UserEvent): Promise<void> {
    const away = await this.movedAway()
    if (geo === this.move.local || !Object.hasOwn(this.move.inbound, geo)) {
      this.moved.delete(userId)
      away.delete(userId)
      return
    }
    let rows = 0
    const prefix = userPrefix(userId)
    for await (const [key, row] of this.lists.prefix(prefix)) {
      const conversationId = key.subarray(prefix.length).toString()
      const sourceId = `moved:${userId}:${conversationId}:${record.offset}`
      await this.forward.send(`geo:${geo}`, {
        key: conversationId,
        value: this.codec.encode(movedRowBatch(userId, conversationId, row, sourceId)),
      })
      this.lists.delete(key)
      rows++
    }
    // Only users who leave from here are followed (not every user homed elsewhere, whom the
    // senders' receivers route away already): a small set, kept in memory.
    if (rows > 0 || away.has(userId)) {
      this.moved.put(userId, { geo })
      away.set(userId, geo)
    }
  }

  /**
   * What still reaches this inbox for users who moved away goes after their rows; the rest of
   * the batch is applied here. Returns who is left here.
   */
  async redirect(record: InputRecord, batch: FanoutBatch): Promise<string[]> {
    const movedTo = await this.movedAway()
    if (movedTo.size === 0) return batch.recipients
    const here: string[] = []
    const away = new Map<string, string[]>()
    for (const userId of batch.recipients) {
      const geo = movedTo.get(userId)
      if (geo === undefined) here.push(userId)
      else away.set(geo, [...(away.get(geo) ?? []), userId])
    }
    for (const [geo, recipients] of away) {
      await this.forward.send(`geo:${geo}`, {
        key: record.key,
        value: this.codec.encode({ ...batch, partition: -1, recipients }),
      })
    }
    return here
  }
}
