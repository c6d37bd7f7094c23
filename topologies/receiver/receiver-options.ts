// What a receiver is built from: its topics and codecs, this deployment's unit and geo, the
// large-group threshold, validation limits and the peak-shaving hook.

import type { ReceiverMetrics } from '../../ops/metrics.js'
import type { EventCodec } from '../../schemas/codec.js'
import type {
  Action,
  ConversationEvent,
  FanoutBatch,
  Receipt,
  RoomEvent,
  SendMessage,
  UserEvent,
} from '../../schemas/types.generated.js'
import type { Admission } from './admission.js'
import type { RemoteTargets } from './forward-or-park.js'
import { type GeoTopics, geoSinks } from './route-by-geo.js'
import { type UnitTopics, unitSinks } from './route-by-unit.js'
import type { ValidationLimits } from './validate-message.js'

export interface GeoSplit {
  /** This deployment's geo. */
  local: string
  /** A user's home geo; undefined: the local one. */
  geoOf(userId: string): string | undefined
  /** Remote geo -> its inbound topic. */
  inbound: Readonly<Record<string, string>>
  /**
   * Remote geo -> its contract topics: messages and actions its users' API marked as homed
   * there go there, and receipts of what it forwarded here go back (route-by-geo.ts).
   */
  homes?: Readonly<Record<string, GeoTopics>>
}

export interface ReceiverOptions {
  /**
   * fanout: the hand-off to user-keyed processing, one record per target partition; rooms:
   * large groups' events, once per event, for the push gateways.
   */
  topics: {
    ingest: string
    conversations: string
    actions: string
    receipts: string
    fanout: string
    rooms: string
  }
  codecs: {
    sendMessage: EventCodec<SendMessage>
    action: EventCodec<Action>
    conversationEvent: EventCodec<ConversationEvent>
    receipt: EventCodec<Receipt>
    fanoutBatch: EventCodec<FanoutBatch>
    roomEvent: EventCodec<RoomEvent>
  }
  /** This deployment's unit, part of every msgId. */
  unit: number
  /** Partitions of the user-keyed side (the fanout topic). */
  userPartitions: number
  /**
   * Above this many members a group is large: conversation lists are computed when read, and
   * messages are sequenced per conversation and pushed to online devices only (im.rooms).
   */
  largeGroupThreshold?: number
  /**
   * Geo split: recipients whose home geo is another one are forwarded there, one record per
   * geo, to that geo's inbound topic. Without it every recipient is local.
   */
  geos?: GeoSplit
  /**
   * Units: conversations homed in another unit listed here (its number as text -> its
   * topics) are not processed here; their messages and changes are forwarded there. A
   * conversation homed in a unit not listed gets its messages rejected (UNKNOWN_UNIT).
   */
  units?: Readonly<Record<string, UnitTopics>>
  /**
   * Users' home units (im.users): a recipient homed in another unit listed in `units` with an
   * inbound topic gets their share there, like a remote geo's users (user-home.ts). Undefined:
   * the user is handed on where each conversation is homed.
   */
  unitOf?(userId: string): string | null | undefined
  /**
   * im.users, read here only so its bad records are dead-lettered, once (every instance keeps
   * users' geos in a global table, which cannot: it reads the topic again at each start).
   */
  users?: { topic: string; codec: EventCodec<UserEvent> }
  /**
   * Whether the other geos' and units' topics exist: records for one that is missing wait in
   * the task (forward-or-park.ts). Without it every target is taken as up.
   */
  remoteTargets?: RemoteTargets
  /**
   * Hot accounts (notifications, bots) that message many conversations: their messages are not
   * handed to their own inbox (no list rows, no sync for them), so one sender's copies do not
   * all land on its one user partition (docs/send-path.md, "Hot accounts").
   */
  systemAccounts?: ReadonlySet<string>
  /** Log entries a moved conversation's history is sent in per transaction (move-out.ts). */
  moveChunk?: number
  limits?: ValidationLimits
  admission?: Admission
  clock?: () => number
  /** What the receiver reports beyond every task's instruments. */
  metrics?: ReceiverMetrics
}

/** Headers copied from a message to its receipt, so a waiting HTTP request finds its answer. */
export const REPLY_HEADERS = ['imflow-reply-to', 'imflow-request-id'] as const

/** The sinks of other geos and units: each geo's inbound, each unit's and geo's contract topics. */
export function remoteSinks(options: ReceiverOptions): Record<string, { topic: string }> {
  return {
    ...Object.fromEntries(
      Object.entries(options.geos?.inbound ?? {}).map(([geo, topic]) => [`geo:${geo}`, { topic }]),
    ),
    ...unitSinks(options.units ?? {}),
    ...geoSinks(options.geos?.homes ?? {}),
  }
}
