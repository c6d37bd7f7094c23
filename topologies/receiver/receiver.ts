// The receiver (conversation-keyed): keeps conversations and memberships from
// im.conversations, and answers every message on im.ingest with a receipt — Accepted with a
// msgId fixed once per (sender, clientMsgId), Rejected with a reason, or Throttled. Normal
// messages are stored once, in the conversation's log (conversation_message); every accepted
// message also goes on to the next stages on an internal topic. Conversations homed in another
// unit are only routed here: their messages and changes go to that unit (route-by-unit.ts).

import type { EventCodec } from '../../schemas/codec.js'
import {
  compareMsgIds,
  createMsgIdGenerator,
  type MsgIdGenerator,
  parseMsgId,
} from '../../schemas/msg-id.js'
import type {
  Action,
  ConversationEvent,
  FanoutBatch,
  Receipt,
  RoomEvent,
  SendMessage,
  StoredMessage,
  ThrottleReason,
} from '../../schemas/types.generated.js'
import { bufferSerde, int64Serde, jsonSerde, stringSerde, typedStore } from '../../state/index.js'
import {
  DEFAULT_LARGE_GROUP_THRESHOLD,
  type DedupeEntry,
  decodeStoredMessage,
  dedupeKey,
  encodeStoredMessage,
  isLargeGroup,
  memberKey,
  messageKey,
  RECEIVER_STORES as STORES,
  seqIndexKey,
} from '../model/index.js'
import {
  defineTopology,
  type InputRecord,
  type ProcessorContext,
  type TopologyDefinition,
} from '../runtime/index.js'
import { ConversationState } from './conversation-state.js'
import { planFanOut } from './fan-out.js'
import {
  alwaysUp,
  forwarder,
  PARKED_STORE,
  type RemoteTargets,
  UNPARK_EVERY_MS,
} from './forward-or-park.js'
import { crossedThreshold } from './room-sequence.js'
import { type GeoTopics, geoRouter, geoSinks } from './route-by-geo.js'
import { type UnitTopics, unitRouter, unitSinks } from './route-by-unit.js'
import { splitByGeo } from './split-by-geo.js'
import {
  checkSender,
  checkShape,
  defaultLimits,
  type ValidationLimits,
} from './validate-message.js'

/** What peak shaving is asked about a valid message from a member. */
export interface AdmissionRequest {
  message: SendMessage
  headers: InputRecord['headers']
  /** When it was written to im.ingest (ms). */
  timestamp: number
  /** The conversation's members (0 when unknown). */
  memberCount: number
}

/** Admit now, admit for later delivery (`later`: accepted now, delivered when drained), or throttle. */
export type AdmissionDecision =
  | { admit: true; later?: boolean }
  | { admit: false; reason: ThrottleReason; retryAfterMs: number }

export interface AdmissionGate {
  admit(request: AdmissionRequest): AdmissionDecision | Promise<AdmissionDecision>
  /** Keeps an accepted message (its StoredMessage bytes) until it is delivered. */
  defer(id: string, stored: Buffer): Promise<void>
}

/**
 * The hook for peak shaving (topologies/shaping): per task, a gate over the stores it
 * declares; `deliver` is how it hands a deferred message back for delivery.
 */
export interface Admission {
  stores: readonly string[]
  open(context: ProcessorContext, deliver: (stored: Buffer) => Promise<void>): AdmissionGate
}

export const admitAll: Admission = {
  stores: [],
  open: (_context, deliver) => ({
    admit: () => ({ admit: true }),
    defer: (_id, stored) => deliver(stored),
  }),
}

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
   * Whether the other geos' and units' topics exist: records for one that is missing wait in
   * the task (forward-or-park.ts). Without it every target is taken as up.
   */
  remoteTargets?: RemoteTargets
  limits?: ValidationLimits
  admission?: Admission
  clock?: () => number
}

/** Headers copied from a message to its receipt, so a waiting HTTP request finds its answer. */
export const REPLY_HEADERS = ['imflow-reply-to', 'imflow-request-id'] as const

export function receiverTopology(options: ReceiverOptions): TopologyDefinition {
  const { topics, codecs } = options
  const limits = options.limits ?? defaultLimits
  const admission = options.admission ?? admitAll
  const clock = options.clock ?? Date.now
  const largeGroupThreshold = options.largeGroupThreshold ?? DEFAULT_LARGE_GROUP_THRESHOLD
  const units = options.units ?? {}
  const remoteSinks = {
    ...Object.fromEntries(
      Object.entries(options.geos?.inbound ?? {}).map(([geo, topic]) => [`geo:${geo}`, { topic }]),
    ),
    ...unitSinks(units),
    ...geoSinks(options.geos?.homes ?? {}),
  }
  return defineTopology({
    name: 'receiver',
    sources: [
      { topic: topics.conversations, decode: (b) => codecs.conversationEvent.decode(b) },
      { topic: topics.ingest, decode: (b) => codecs.sendMessage.decode(b) },
      { topic: topics.actions, decode: (b) => codecs.action.decode(b) },
    ],
    sinks: {
      receipts: { topic: topics.receipts },
      fanout: { topic: topics.fanout },
      rooms: { topic: topics.rooms },
      ...remoteSinks,
    },
    stores: [...Object.values(STORES), PARKED_STORE, ...admission.stores],
    internalTopics: [topics.fanout],
    processor: (context) => {
      const conversations = new ConversationState(
        context.store(STORES.conversations),
        context.store(STORES.members),
      )
      const dedupe = typedStore(context.store(STORES.dedupe), stringSerde, jsonSerde<DedupeEntry>())
      const ids = typedStore(context.store(STORES.ids), stringSerde, int64Serde)
      const log = context.store(STORES.messages)
      const readCursors = typedStore(context.store(STORES.readCursors), bufferSerde, stringSerde)
      const seqIndex = context.store(STORES.seqIndex)
      const forward = forwarder(context, remoteSinks, options.remoteTargets ?? alwaysUp)
      context.schedule(UNPARK_EVERY_MS, 'wall-clock', () => forward.unpark())
      const route = unitRouter({ forward, local: options.unit, remote: units, codecs })
      const geoRoute = geoRouter({
        forward,
        local: options.geos?.local ?? '',
        remote: options.geos?.homes ?? {},
      })
      const gate = admission.open(context, (stored) => deliver(decodeStoredMessage(stored)))
      let generator: MsgIdGenerator | undefined

      const nextId = async (): Promise<string> => {
        if (!generator) {
          generator = createMsgIdGenerator({
            unit: options.unit,
            worker: context.partition,
            floorMs: await ids.get('high-water'),
            reserve: (until) => ids.put('high-water', until),
            clock,
          })
        }
        return generator.next()
      }

      const reply = async (
        record: InputRecord,
        message: SendMessage,
        outcome: Receipt['outcome'],
      ) => {
        const headers: Record<string, Buffer | string> = {}
        for (const name of REPLY_HEADERS) {
          const value = record.headers[name]
          if (typeof value === 'string' || Buffer.isBuffer(value)) headers[name] = value
        }
        const receipt: Receipt = {
          conversationId: message.conversationId,
          clientMsgId: message.clientMsgId,
          senderId: message.senderId,
          decidedAt: clock(),
          outcome,
        }
        const out = { key: message.senderId, value: codecs.receipt.encode(receipt), headers }
        const sink = geoRoute.receiptSink(record) ?? route.receiptSink(record)
        if (sink === 'receipts') context.send(sink, out)
        else await forward.send(sink, out)
      }

      const receive = async (record: InputRecord, message: SendMessage) => {
        const shape = checkShape(message, limits)
        if (shape) return reply(record, message, { kind: 'Rejected', ...shape })
        const dedupeId = dedupeKey(message.senderId, message.clientMsgId)
        const seen = await dedupe.get(dedupeId)
        if (seen) return reply(record, message, { kind: 'Accepted', ...seen })
        const conversation = await conversations.get(message.conversationId)
        // Homed in another geo (its sender's API found it there): decided there.
        const value = () => codecs.sendMessage.encode(message)
        if (
          !conversation &&
          (await geoRoute.forward(record, 'ingest', message.conversationId, value))
        )
          return
        // Homed in another unit: processed there, so nothing of it is kept here.
        if (conversation && !route.isLocal(conversation.unit)) {
          const refused = await route.forwardMessage(record, message, conversation.unit)
          return refused ? reply(record, message, refused) : undefined
        }
        const role = await conversations.role(message.conversationId, message.senderId)
        const refused = checkSender(message, conversation, role)
        if (refused) return reply(record, message, { kind: 'Rejected', ...refused })
        if (message.visibility === 'PRIVATE') {
          for (const target of message.targets) {
            if (!(await conversations.role(message.conversationId, target))) {
              return reply(record, message, {
                kind: 'Rejected',
                reason: 'BAD_TARGETS',
                detail: `${target} is not a member of ${message.conversationId}`,
              })
            }
          }
        }
        const admitted = await gate.admit({
          message,
          headers: record.headers,
          timestamp: record.timestamp,
          memberCount: conversation?.memberCount ?? 0,
        })
        if (!admitted.admit) {
          return reply(record, message, {
            kind: 'Throttled',
            reason: admitted.reason,
            retryAfterMs: admitted.retryAfterMs,
          })
        }
        const msgId = await nextId()
        // Never before the id's own time, which never goes back (not even across restarts or
        // clock steps): history, ordered by creation time, then follows id order.
        const createdAt = Math.max(clock(), parseMsgId(msgId).timeMs)
        const storedMessage: StoredMessage = { ...message, msgId, createdAt, seq: 0 }
        dedupe.put(dedupeId, { msgId, createdAt })
        // LOW: accepted now (its msgId is fixed), stored and delivered when shaping drains it.
        if (admitted.later) await gate.defer(msgId, encodeStoredMessage(storedMessage))
        else await deliver(storedMessage)
        await reply(record, message, { kind: 'Accepted', msgId, createdAt })
      }

      /**
       * Stores an accepted message in the conversation's log and hands it on. A large group's
       * normal message gets the conversation's next seq here (when delivered, so a drained LOW
       * message is numbered in delivery order) and goes once to im.rooms; any other message to
       * its recipients' partitions.
       */
      const deliver = async (accepted: StoredMessage) => {
        const { msgId, createdAt, conversationId } = accepted
        const meta = await conversations.get(conversationId)
        const sequenced =
          accepted.visibility === 'NORMAL' &&
          meta !== undefined &&
          isLargeGroup(meta.memberCount, largeGroupThreshold)
        const message: StoredMessage = sequenced
          ? { ...accepted, seq: conversations.nextSeq(conversationId, meta) }
          : accepted
        if (message.visibility === 'NORMAL') {
          const key = messageKey(conversationId, createdAt, msgId)
          log.put(key, encodeStoredMessage(message))
          if (sequenced) seqIndex.put(seqIndexKey(conversationId, message.seq), key)
        }
        const payload = { kind: 'NewMessage' as const, message }
        if (sequenced) {
          // Once, whatever the size: the gateways push it to the online members' devices.
          toRoom(conversationId, message.seq, message.priority, payload)
          return handOffRemote(conversationId, msgId, message.priority, payload)
        }
        // Everyone who may see it: all members for a normal message (the sender's other devices
        // included), the sender and the targets for a private one.
        const recipients =
          message.visibility === 'NORMAL'
            ? await conversations.members(conversationId)
            : [...new Set([message.senderId, ...message.targets])]
        // Big groups read, small groups write: above the threshold no list row changes now.
        const updateLists = !isLargeGroup(meta?.memberCount ?? 0, largeGroupThreshold)
        await handOff(conversationId, recipients, msgId, message.priority, payload, updateLists)
      }

      // A user's action: deleting a message for themself (NP) and reading up to a message go
      // to their inbox (the read cursor is also kept here, for large groups' unread counts).
      // Reactions are merged over windows (the merge stage).
      const act = async (record: InputRecord, event: Action) => {
        const { conversationId, userId, action } = event
        // Homed in another geo: acted on there (reactions too: that geo's merge stage counts them).
        if (
          !(await conversations.get(conversationId)) &&
          (await geoRoute.forward(record, 'actions', conversationId, () =>
            codecs.action.encode(event),
          ))
        )
          return
        const meta = await conversations.get(conversationId)
        if (meta && !route.isLocal(meta.unit)) return route.forwardAction(record, event, meta.unit)
        if (action.kind === 'ReactionChanged') return
        if (!(await conversations.role(conversationId, userId))) return // only members act here
        if (action.kind === 'DeletedForMe') {
          const payload = { kind: 'MessageDeleted' as const, conversationId, msgId: action.msgId }
          return handOff(
            conversationId,
            [userId],
            `deleted:${userId}:${action.msgId}`,
            'LOW',
            payload,
            true,
          )
        }
        const previous = await readCursors.get(memberKey(conversationId, userId))
        if (previous && compareMsgIds(previous, action.upToMsgId) >= 0) return // never backwards
        readCursors.put(memberKey(conversationId, userId), action.upToMsgId)
        const payload = {
          kind: 'ConversationRead' as const,
          conversationId,
          upToMsgId: action.upToMsgId,
        }
        await handOff(
          conversationId,
          [userId],
          `read:${userId}:${action.upToMsgId}`,
          'HIGH',
          payload,
          true,
        )
      }

      const toRoom = (
        conversationId: string,
        seq: number,
        priority: FanoutBatch['event']['priority'],
        payload: FanoutBatch['event']['payload'],
      ) => {
        const event: RoomEvent = {
          conversationId,
          seq,
          createdAt: clock(),
          event: { priority, payload },
        }
        context.send('rooms', { key: conversationId, value: codecs.roomEvent.encode(event) })
      }

      /**
       * A large group's members in other geos: their geo gets its share, as for any message
       * (sequenced there per user). Skipped when no other geo is configured: then a large
       * group's message costs no scan of its members.
       */
      const handOffRemote = async (
        conversationId: string,
        sourceId: string,
        priority: FanoutBatch['event']['priority'],
        payload: FanoutBatch['event']['payload'],
      ) => {
        if (Object.keys(options.geos?.inbound ?? {}).length === 0) return
        const members = await conversations.members(conversationId)
        const remote = splitByGeo(members, options.geos).remote
        await forwardToGeos(conversationId, remote, sourceId, { priority, payload }, false)
      }

      const forwardToGeos = async (
        conversationId: string,
        remote: ReadonlyMap<string, string[]>,
        sourceId: string,
        event: FanoutBatch['event'],
        updateLists: boolean,
      ) => {
        for (const [geo, users] of remote) {
          // One forwarded record per remote geo; it splits its share by its own partitions.
          const batch: FanoutBatch = {
            partition: -1,
            recipients: users,
            sourceId,
            event,
            updateLists,
          }
          await forward.send(`geo:${geo}`, {
            key: conversationId,
            value: codecs.fanoutBatch.encode(batch),
          })
        }
      }

      /** One hand-off record per user partition that owns some of the recipients. */
      const handOff = async (
        conversationId: string,
        recipients: readonly string[],
        sourceId: string,
        priority: FanoutBatch['event']['priority'],
        payload: FanoutBatch['event']['payload'],
        updateLists: boolean,
      ) => {
        const event = { priority, payload }
        const byGeo = splitByGeo(recipients, options.geos)
        await forwardToGeos(conversationId, byGeo.remote, sourceId, event, updateLists)
        for (const share of planFanOut(byGeo.local, options.userPartitions)) {
          const batch: FanoutBatch = { ...share, sourceId, event, updateLists }
          context.send('fanout', {
            key: conversationId,
            value: codecs.fanoutBatch.encode(batch),
            partition: share.partition,
          })
        }
      }

      return {
        async process(record) {
          if (record.topic === topics.conversations) {
            const event = record.value as ConversationEvent
            const before = await conversations.get(event.conversationId)
            const { joined, left } = await conversations.apply(event)
            const after = await conversations.get(event.conversationId)
            if (after) {
              await route.forwardChange(record, event, before, after, () =>
                conversations.roster(event.conversationId),
              )
              // Its home unit tells the members; here the conversation is only known, to route.
              if (!route.isLocal(after.unit)) return
            }
            const at = `${event.conversationId}:${record.offset}`
            const change = (member: boolean) => ({
              kind: 'MembershipChanged' as const,
              conversationId: event.conversationId,
              member,
            })
            if (joined.length)
              await handOff(event.conversationId, joined, `joined:${at}`, 'LOW', change(true), true)
            if (left.length)
              await handOff(event.conversationId, left, `left:${at}`, 'LOW', change(false), true)
            const changed = (description: string) => ({
              kind: 'ConversationChanged' as const,
              conversationId: event.conversationId,
              description,
            })
            const everyone = async (description: string) =>
              handOff(
                event.conversationId,
                await conversations.members(event.conversationId),
                `changed:${at}`,
                'LOW',
                changed(description),
                false,
              )
            // Devices switch between per-user PTS and the conversation's seq: each member is
            // told once, and refreshes the conversation (its kind and seq) from the list.
            const crossed = after && crossedThreshold(before, after, largeGroupThreshold)
            if (crossed) await everyone(crossed)
            // A change every member's devices show (the mute state): in a large group one room
            // event for the online devices (the others read it from the list); else one per member.
            if (before && after && before.muted !== after.muted) {
              const description = after.muted ? 'muted' : 'unmuted'
              if (isLargeGroup(after.memberCount, largeGroupThreshold)) {
                toRoom(event.conversationId, 0, 'LOW', changed(description))
              } else {
                await everyone(description)
              }
            }
          } else if (record.topic === topics.actions) {
            await act(record, record.value as Action)
          } else {
            await receive(record, record.value as SendMessage)
          }
        },
      }
    },
  })
}
