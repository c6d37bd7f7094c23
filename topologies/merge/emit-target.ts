// Where a closed window's updates go. Per-user updates: the recipients homed here through the
// fanout hand-off, each other geo's share once to its inbound (which hands it to its own
// users, as for messages). A large group's room event: once to im.rooms, and once to the rooms
// of each other geo with members, whose gateways push it to their online devices. Records for
// a geo that is down wait in the park (forward-or-park.ts), in order, as the receiver's do.

import type { FanoutBatch, RoomEvent, SyncEvent } from '../../schemas/types.generated.js'
import {
  alwaysUp,
  type ConversationState,
  forwarder,
  type GeoSplit,
  geoSink,
  planFanOut,
  type RemoteTargets,
  splitByGeo,
  UNPARK_EVERY_MS,
} from '../receiver/index.js'
import type { ProcessorContext } from '../runtime/index.js'
import type { EmitTarget } from './emit-updates.js'
import type { MergeOptions } from './merge.js'

/** Other geos, as the receiver knows them: users' homes, inbound and rooms topics. */
export interface MergeGeos {
  readonly split: GeoSplit
  readonly remoteTargets?: RemoteTargets
}

/** The merge's sinks: its own topics, and each other geo's inbound and rooms. */
export function mergeSinks(
  topics: { fanout: string; rooms: string },
  geos: MergeGeos | undefined,
): Record<string, { topic: string }> {
  const sinks: Record<string, { topic: string }> = {
    fanout: { topic: topics.fanout },
    rooms: { topic: topics.rooms },
  }
  for (const [geo, topic] of Object.entries(geos?.split.inbound ?? {})) {
    sinks[`geo:${geo}`] = { topic }
    const rooms = geos?.split.homes?.[geo]?.rooms
    if (rooms) sinks[geoSink(geo, 'rooms')] = { topic: rooms }
  }
  return sinks
}

/** Whether other geos are configured: only then does the merge forward (and keep a park). */
export const forwardsToGeos = (geos: MergeGeos | undefined) =>
  Object.keys(geos?.split.inbound ?? {}).length > 0

export function emitTarget(
  context: ProcessorContext,
  options: MergeOptions,
  conversations: ConversationState,
): EmitTarget {
  const { codecs, userPartitions, geos } = options
  const forward = forwardsToGeos(geos)
    ? forwarder(context, mergeSinks(options.topics, geos), geos?.remoteTargets ?? alwaysUp)
    : undefined
  if (forward) context.schedule(UNPARK_EVERY_MS, 'wall-clock', () => forward.unpark())
  const split = geos?.split
  return {
    async toUsers(conversationId, recipients, sourceId, event: SyncEvent) {
      const { local, remote } = splitByGeo(recipients, split)
      for (const [geo, users] of forward ? remote : []) {
        const batch: FanoutBatch = {
          partition: -1,
          recipients: users,
          sourceId,
          event,
          updateLists: false,
        }
        await forward?.send(`geo:${geo}`, {
          key: conversationId,
          value: codecs.fanoutBatch.encode(batch),
        })
      }
      for (const share of planFanOut(local, userPartitions)) {
        const batch: FanoutBatch = { ...share, sourceId, event, updateLists: false }
        context.send('fanout', {
          key: conversationId,
          value: codecs.fanoutBatch.encode(batch),
          partition: share.partition,
        })
      }
    },
    async toRoom(conversationId, createdAt, event) {
      // seq 0: a per-message update takes no place in the conversation's sequence.
      const room: RoomEvent = { conversationId, seq: 0, createdAt, event, removed: [] }
      const value = codecs.roomEvent.encode(room)
      context.send('rooms', { key: conversationId, value })
      if (!forward) return
      const members = await conversations.members(conversationId)
      for (const geo of splitByGeo(members, split).remote.keys())
        if (split?.homes?.[geo]?.rooms)
          await forward.send(geoSink(geo, 'rooms'), { key: conversationId, value })
    },
  }
}
