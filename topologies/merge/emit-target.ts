// Where a closed window's updates go. Per-user updates: handed off as the receiver hands off
// messages (hand-off.ts) — the recipients homed here through the fanout topic, each other geo's
// or unit's share once to its inbound. A large group's room event: once to im.rooms, and once
// to the rooms of each other geo or unit with members homed there (room-homes.ts), whose
// gateways push it to their online devices. Records for a home that is down wait in the park
// (forward-or-park.ts), in order, as the receiver's do.

import type { RoomEvent, SyncEvent } from '../../schemas/types.generated.js'
import {
  alwaysUp,
  type ConversationState,
  forwarder,
  type HandOffTarget,
  handOff,
  type RemoteTargets,
  RoomHomes,
  roomsSink,
  UNPARK_EVERY_MS,
  type UserHomes,
} from '../receiver/index.js'
import type { ProcessorContext } from '../runtime/index.js'
import type { EmitTarget } from './emit-updates.js'
import type { MergeOptions } from './merge.js'

/** Users homed in other geos and units, as the receiver knows them. */
export interface MergeHomes {
  readonly users: UserHomes
  readonly remoteTargets?: RemoteTargets
}

/** The merge's sinks: its own topics, and each other home's inbound and rooms. */
export function mergeSinks(
  topics: { fanout: string; rooms: string },
  homes: MergeHomes | undefined,
): Record<string, { topic: string }> {
  return {
    fanout: { topic: topics.fanout },
    rooms: { topic: topics.rooms },
    ...homes?.users.sinks,
  }
}

/** Whether other homes are configured: only then does the merge forward (and keep a park). */
export const forwardsHome = (homes: MergeHomes | undefined) =>
  Object.keys(homes?.users.sinks ?? {}).length > 0

export function emitTarget(
  context: ProcessorContext,
  options: MergeOptions,
  conversations: ConversationState,
): EmitTarget {
  const { codecs, homes } = options
  const forward = forwardsHome(homes)
    ? forwarder(context, mergeSinks(options.topics, homes), homes?.remoteTargets ?? alwaysUp)
    : undefined
  if (forward) context.schedule(UNPARK_EVERY_MS, 'wall-clock', () => forward.unpark())
  const homeOf = (userId: string) => homes?.users.homeOf(userId)
  const target: HandOffTarget = {
    context,
    forward,
    homeOf,
    codec: codecs.fanoutBatch,
    userPartitions: options.userPartitions,
  }
  const roomHomes = new RoomHomes(homeOf, () => context.wallClock())
  return {
    toUsers: (conversationId, recipients, sourceId, event: SyncEvent) =>
      handOff(target, conversationId, recipients, { sourceId, event, updateLists: false }),
    async toRoom(conversationId, createdAt, event) {
      // seq 0: a per-message update takes no place in the conversation's sequence.
      const room: RoomEvent = { conversationId, seq: 0, createdAt, event, removed: [] }
      const value = codecs.roomEvent.encode(room)
      context.send('rooms', { key: conversationId, value })
      if (!forward) return
      const members = await conversations.members(conversationId)
      for (const home of roomHomes.of(conversationId, members, []))
        await forward.send(roomsSink(home), { key: conversationId, value })
    },
  }
}
