// Where a closed window's updates go. Per-user updates: the recipients homed here through the
// fanout hand-off, each other geo's or unit's share once to its inbound (which hands it to its
// own users, as for messages). A large group's room event: once to im.rooms, and once to the
// rooms of each other geo or unit with members homed there, whose gateways push it to their
// online devices. Records for a home that is down wait in the park (forward-or-park.ts), in
// order, as the receiver's do.

import type { FanoutBatch, RoomEvent, SyncEvent } from '../../schemas/types.generated.js'
import {
  alwaysUp,
  type ConversationState,
  forwarder,
  inboundSink,
  planFanOut,
  type RemoteTargets,
  roomsSink,
  splitByHome,
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
  const { codecs, userPartitions, homes } = options
  const forward = forwardsHome(homes)
    ? forwarder(context, mergeSinks(options.topics, homes), homes?.remoteTargets ?? alwaysUp)
    : undefined
  if (forward) context.schedule(UNPARK_EVERY_MS, 'wall-clock', () => forward.unpark())
  const homeOf = (userId: string) => homes?.users.homeOf(userId)
  return {
    async toUsers(conversationId, recipients, sourceId, event: SyncEvent) {
      const { local, remote } = forward
        ? splitByHome(recipients, homeOf)
        : { local: recipients, remote: new Map() }
      for (const { home, users } of remote.values()) {
        const batch: FanoutBatch = {
          partition: -1,
          recipients: users,
          sourceId,
          event,
          updateLists: false,
        }
        await forward?.send(inboundSink(home), {
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
      for (const { home } of splitByHome(members, homeOf).remote.values()) {
        const sink = roomsSink(home)
        if (sink in (homes?.users.sinks ?? {}))
          await forward.send(sink, { key: conversationId, value })
      }
    },
  }
}
