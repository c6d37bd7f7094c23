// The merge topology (conversation-keyed, co-partitioned with im.conversations and
// im.actions): read receipts and reactions applied to exact totals as they arrive, and the
// resulting updates emitted once per message per window — ReadStatus to each message's
// sender, ReactionSummary to a small group's members or once to a large group's room. Its own
// consumer group; it keeps its own copy of memberships (from im.conversations) and of who sent
// which message (from the merge-index topology's re-keyed receipts).

import type { MergeMetrics } from '../../ops/metrics.js'
import type { EventCodec } from '../../schemas/codec.js'
import type {
  Action,
  ConversationEvent,
  FanoutBatch,
  Receipt,
  RoomEvent,
} from '../../schemas/types.generated.js'
import { bufferSerde } from '../../state/index.js'
import { byConversation } from '../model/index.js'
import { ConversationState, PARKED_STORE } from '../receiver/index.js'
import {
  backfilled,
  declareStore,
  defineTopology,
  type TopologyDefinition,
} from '../runtime/index.js'
import { actionsOnMembership } from './actions-awaiting-member.js'
import type { Totals } from './apply-action.js'
import { EmissionWindows, type WindowSettings } from './emission-windows.js'
import { emitTarget, forwardsHome, type MergeHomes, mergeSinks } from './emit-target.js'
import { emitUpdates, type MergeStores } from './emit-updates.js'
import { indexMessage, learnSender, type MessageIndex } from './index-message.js'
import { Reactions } from './reactions.js'
import { readAhead } from './read-ahead.js'
import { ReadCursors } from './read-cursors.js'

export const MERGE_STORES = {
  conversations: 'conversations',
  members: 'members',
  /** cid, msgId -> the sender (from Accepted receipts). */
  senders: 'message-senders',
  /** cid, userId -> the newest msgId read. */
  cursors: 'read-cursors',
  /** cid, msgId -> how many cursors stand there. */
  histogram: 'read-histogram',
  /** cid, msgId, emoji, userId -> present. */
  reactions: 'reactions',
  smallWindows: 'windows-small',
  largeWindows: 'windows-large',
  /** Actions whose sender is not known a member yet (actions-awaiting-member.ts). */
  awaitingMember: 'actions-awaiting-member',
} as const

/** cid, msgId -> the sender's id (bytes as they are). */
const sendersStore = declareStore(MERGE_STORES.senders, bufferSerde, bufferSerde)

export interface MergeOptions {
  topics: {
    conversations: string
    actions: string
    /** The merge-index topology's output: Accepted receipts keyed by conversation. */
    messages: string
    fanout: string
    rooms: string
  }
  codecs: {
    conversationEvent: EventCodec<ConversationEvent>
    action: EventCodec<Action>
    receipt: EventCodec<Receipt>
    fanoutBatch: EventCodec<FanoutBatch>
    roomEvent: EventCodec<RoomEvent>
  }
  /** Partitions of the user-keyed side (the fanout topic). */
  userPartitions: number
  largeGroupThreshold?: number
  windows: WindowSettings
  metrics?: MergeMetrics
  /** Other geos and units: updates of users homed there are forwarded (emit-target.ts). */
  homes?: MergeHomes
}

/**
 * Merge's stores. Senders are learnt from their receipts alone: added to a merge that has run,
 * that store is built from the receipts merge-messages retains (docs/replay.md, "Backfill").
 */
function mergeStores(messages: string) {
  return Object.values(MERGE_STORES).map((name) =>
    name === MERGE_STORES.senders
      ? backfilled(sendersStore, {
          topic: messages,
          fold: async (record, store) => {
            await learnSender(store, record.value as Receipt)
          },
        })
      : name,
  )
}

/**
 * A misplaced record on the contract topics is re-routed by the receiver: its copy is merged
 * at the partition that owns the conversation, the original nowhere.
 */
function mergeSources(topics: MergeOptions['topics'], codecs: MergeOptions['codecs']) {
  return [
    {
      topic: topics.conversations,
      decode: (b: Buffer) => codecs.conversationEvent.decode(b),
      owner: byConversation('skip'),
    },
    { topic: topics.messages, decode: (b: Buffer) => codecs.receipt.decode(b) },
    {
      topic: topics.actions,
      decode: (b: Buffer) => codecs.action.decode(b),
      owner: byConversation('skip'),
    },
  ]
}

export function mergeTopology(options: MergeOptions): TopologyDefinition {
  const { topics, codecs, metrics } = options
  const { smallMs } = options.windows
  return defineTopology({
    name: 'merge',
    commitIntervalMs: 0, // a push waits on it: each slice commits at once
    sources: mergeSources(topics, codecs),
    sinks: mergeSinks(topics, options.homes),
    stores: [
      ...mergeStores(topics.messages),
      ...(forwardsHome(options.homes) ? [PARKED_STORE] : []),
    ],
    processor: (context) => {
      const store = (name: string) => context.store(name)
      const conversations = new ConversationState(
        store(MERGE_STORES.conversations),
        store(MERGE_STORES.members),
      )
      const senders = store(MERGE_STORES.senders)
      const histogram = store(MERGE_STORES.histogram)
      const cursorStore = store(MERGE_STORES.cursors)
      const cursors = new ReadCursors(cursorStore, histogram)
      const windows = new EmissionWindows(
        { small: store(MERGE_STORES.smallWindows), large: store(MERGE_STORES.largeWindows) },
        options.windows,
      )
      const largeGroupThreshold = options.largeGroupThreshold ?? 500
      const totals: Totals = {
        conversations,
        cursors,
        reactions: new Reactions(store(MERGE_STORES.reactions)),
        windows,
        largeGroupThreshold,
        metrics,
      }
      const stores: MergeStores = {
        index: senders,
        cursors: cursorStore,
        histogram,
        reactions: store(MERGE_STORES.reactions),
      }
      const index: MessageIndex = {
        senders,
        cursors,
        histogram,
        conversations,
        windows,
        largeGroupThreshold,
      }
      const target = emitTarget(context, options, conversations)
      const actions = actionsOnMembership(totals, store(MERGE_STORES.awaitingMember))

      const closeDue = async (now: number) => {
        await actions.expire(context.wallClock())
        for await (const closed of windows.close(now)) {
          const emitted = await emitUpdates(stores, conversations, closed, target)
          metrics?.updatesOut.inc({ kind: 'read_status' }, emitted.readStatuses)
          metrics?.updatesOut.inc({ kind: 'reaction_summary' }, emitted.reactionDeliveries)
          const size = closed.large ? 'large' : 'small'
          metrics?.windowLag.observe(
            { size },
            Math.max(0, context.wallClock() - closed.window.end) / 1000,
          )
        }
      }

      // Quiet partitions' windows close by wall-clock time.
      context.schedule(Math.min(100, Math.max(10, Math.floor(smallMs / 4))), 'wall-clock', closeDue)

      const readAheadStores = { conversations, senders, cursors: cursorStore, histogram }
      return {
        prefetch: (records) =>
          readAhead(
            readAheadStores,
            records.filter((r) => r.topic === topics.messages).map((r) => r.value as Receipt),
            records.filter((r) => r.topic === topics.actions).map((r) => r.value as Action),
          ),
        async process(record) {
          if (record.topic === topics.conversations) {
            const event = record.value as ConversationEvent
            const { left } = await conversations.apply(event)
            for (const userId of left) await cursors.drop(event.conversationId, userId)
            await actions.membershipChanged(event.conversationId, record.timestamp)
          } else if (record.topic === topics.messages) {
            await indexMessage(index, record.value as Receipt, record.timestamp)
          } else {
            await actions.apply(record.value as Action, record, context.wallClock())
          }
          await closeDue(Math.max(record.timestamp, context.wallClock()))
        },
      }
    },
  })
}
