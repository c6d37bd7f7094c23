// The inbox (user-keyed): the write-diffusion side of the hybrid storage model. It keeps,
// per user, the private messages (P) they may see, their per-user state changes of normal
// messages (NP: deleted for me), and their conversation list: unread count and last message,
// updated at send time for small groups only. Normal messages (N) are not copied here. A user
// whose home geo or unit changes takes all of it along (user-moves.ts).

import type { EventCodec } from '../../schemas/codec.js'
import type { FanoutBatch, UserEvent } from '../../schemas/types.generated.js'
import { inboxStores } from '../model/index.js'
import { PARKED_STORE } from '../receiver/index.js'
import { defineTopology, openStore, type TopologyDefinition } from '../runtime/index.js'
import { applyBatch, prefetchRows } from './apply-batch.js'
import { movedUsers } from './geo-move.js'
import { userExports } from './user-export.js'
import { type HomeMoveOptions, homeSinks, UserMoves } from './user-moves.js'

export { markRead, summarize } from './list-rows.js'

export interface InboxOptions {
  fanout: string
  codec: EventCodec<FanoutBatch>
  /**
   * Users' home geos and units (im.users, co-partitioned): rows follow a user who moves to
   * another geo or unit.
   */
  homeMove?: HomeMoveOptions
}

export function inboxTopology(options: InboxOptions): TopologyDefinition {
  const move = options.homeMove
  return defineTopology({
    name: 'inbox',
    // A transaction per slice, begun at most every IMFLOW_TRANSACTION_PACE_MS (the app's run()).
    commitIntervalMs: 0,
    sources: [
      { topic: options.fanout, decode: (b) => options.codec.decode(b) },
      ...(move ? [{ topic: move.users, decode: (b: Buffer) => move.userCodec.decode(b) }] : []),
    ],
    sinks: homeSinks(move),
    stores: [
      ...Object.values(inboxStores),
      ...(move ? [movedUsers.name, userExports.name, PARKED_STORE] : []),
    ],
    processor: (context) => {
      const stores = {
        inbox: openStore(context, inboxStores.inbox),
        deleted: openStore(context, inboxStores.deleted),
        lists: openStore(context, inboxStores.lists),
      }
      const moves = move && new UserMoves(context, move, options.codec, stores)
      return {
        prefetch: (records) =>
          prefetchRows(
            stores,
            records.filter((r) => r.topic === options.fanout).map((r) => r.value as FanoutBatch),
          ),
        async process(record) {
          if (move && record.topic === move.users)
            return moves?.userMoved(record, record.value as UserEvent)
          const received = record.value as FanoutBatch
          const recipients = moves ? await moves.redirect(record, received) : received.recipients
          if (recipients.length === 0) return
          await applyBatch(stores, { ...received, recipients })
        },
      }
    },
  })
}
