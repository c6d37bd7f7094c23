// The receiver (conversation-keyed): keeps conversations and memberships from
// im.conversations, and answers every message on im.ingest with a receipt — Accepted with a
// msgId fixed once per (sender, clientMsgId), Rejected with a reason, or Throttled. Normal
// messages are stored once, in the conversation's log (conversation_message); every accepted
// message also goes on to the next stages on an internal topic. Conversations homed in another
// unit are only routed here: their messages and changes go to that unit (route-by-unit.ts).

import type avsc from 'avsc'
import type { EventCodec } from '../../schemas/codec.js'
import { readerType } from '../../schemas/codec.js'
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
  SendMessage,
  StoredMessage,
  ThrottleReason,
} from '../../schemas/types.generated.js'
import { bufferSerde, int64Serde, jsonSerde, stringSerde, typedStore } from '../../state/index.js'
import {
  defineTopology,
  type InputRecord,
  type ProcessorContext,
  type TopologyDefinition,
} from '../runtime/index.js'
import { ConversationState, memberKey } from './conversation-state.js'
import { planFanOut } from './fan-out.js'
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
}

export interface ReceiverOptions {
  /** fanout: the hand-off to user-keyed processing, one record per target partition. */
  topics: {
    ingest: string
    conversations: string
    actions: string
    receipts: string
    fanout: string
  }
  codecs: {
    sendMessage: EventCodec<SendMessage>
    action: EventCodec<Action>
    conversationEvent: EventCodec<ConversationEvent>
    receipt: EventCodec<Receipt>
    fanoutBatch: EventCodec<FanoutBatch>
  }
  /** This deployment's unit, part of every msgId. */
  unit: number
  /** Partitions of the user-keyed side (the fanout topic). */
  userPartitions: number
  /** Above this many members, conversation lists are computed when read, not at send time. */
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
  limits?: ValidationLimits
  admission?: Admission
  clock?: () => number
}

/** Headers copied from a message to its receipt, so a waiting HTTP request finds its answer. */
export const REPLY_HEADERS = ['imflow-reply-to', 'imflow-request-id'] as const

export const STORES = {
  conversations: 'conversations',
  members: 'members',
  dedupe: 'dedupe',
  ids: 'ids',
  /** conversation_message: the read-diffusion log, one copy per normal message. */
  messages: 'conversation-messages',
  /** (conversation, user) -> the newest msgId the user has read. */
  readCursors: 'read-cursors',
} as const

const stored = readerType('StoredMessage') as avsc.Type

/** Log keys order a conversation's messages by creation time, then id. */
export function messageKey(conversationId: string, createdAt: number, msgId: string): Buffer {
  const time = Buffer.alloc(8)
  time.writeBigUInt64BE(BigInt(createdAt))
  return Buffer.concat([Buffer.from(conversationId), Buffer.from([0]), time, Buffer.from(msgId)])
}

export function encodeStoredMessage(message: StoredMessage): Buffer {
  return stored.toBuffer(message)
}

export function decodeStoredMessage(bytes: Buffer): StoredMessage {
  return stored.fromBuffer(bytes) as StoredMessage
}

interface Dedupe {
  msgId: string
  createdAt: number
}

export function receiverTopology(options: ReceiverOptions): TopologyDefinition {
  const { topics, codecs } = options
  const limits = options.limits ?? defaultLimits
  const admission = options.admission ?? admitAll
  const clock = options.clock ?? Date.now
  const largeGroupThreshold = options.largeGroupThreshold ?? 500
  const units = options.units ?? {}
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
      ...Object.fromEntries(
        Object.entries(options.geos?.inbound ?? {}).map(([geo, topic]) => [
          `geo:${geo}`,
          { topic },
        ]),
      ),
      ...unitSinks(units),
    },
    stores: [...Object.values(STORES), ...admission.stores],
    internalTopics: [topics.fanout],
    processor: (context) => {
      const conversations = new ConversationState(
        context.store(STORES.conversations),
        context.store(STORES.members),
      )
      const dedupe = typedStore(context.store(STORES.dedupe), stringSerde, jsonSerde<Dedupe>())
      const ids = typedStore(context.store(STORES.ids), stringSerde, int64Serde)
      const log = context.store(STORES.messages)
      const readCursors = typedStore(context.store(STORES.readCursors), bufferSerde, stringSerde)
      const route = unitRouter({ context, local: options.unit, remote: units, codecs })
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

      const reply = (record: InputRecord, message: SendMessage, outcome: Receipt['outcome']) => {
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
        context.send(route.receiptSink(record), {
          key: message.senderId,
          value: codecs.receipt.encode(receipt),
          headers,
        })
      }

      const receive = async (record: InputRecord, message: SendMessage) => {
        const shape = checkShape(message, limits)
        if (shape) return reply(record, message, { kind: 'Rejected', ...shape })
        const dedupeKey = `${message.senderId}\u0000${message.clientMsgId}`
        const seen = await dedupe.get(dedupeKey)
        if (seen) return reply(record, message, { kind: 'Accepted', ...seen })
        const conversation = await conversations.get(message.conversationId)
        // Homed in another unit: processed there, so nothing of it is kept here.
        if (conversation && !route.isLocal(conversation.unit)) {
          const refused = route.forwardMessage(record, message, conversation.unit)
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
        dedupe.put(dedupeKey, { msgId, createdAt })
        // LOW: accepted now (its msgId is fixed), stored and delivered when shaping drains it.
        if (admitted.later) await gate.defer(msgId, encodeStoredMessage(storedMessage))
        else await deliver(storedMessage)
        reply(record, message, { kind: 'Accepted', msgId, createdAt })
      }

      /** Stores an accepted message in the conversation's log and hands it to its recipients. */
      const deliver = async (message: StoredMessage) => {
        const { msgId, createdAt } = message
        const conversation = await conversations.get(message.conversationId)
        if (message.visibility === 'NORMAL') {
          log.put(
            messageKey(message.conversationId, createdAt, msgId),
            encodeStoredMessage(message),
          )
        }
        // Everyone who may see it: all members for a normal message (the sender's other devices
        // included), the sender and the targets for a private one.
        const recipients =
          message.visibility === 'NORMAL'
            ? await conversations.members(message.conversationId)
            : [...new Set([message.senderId, ...message.targets])]
        // Big groups read, small groups write: above the threshold no list row changes now.
        const updateLists = (conversation?.memberCount ?? 0) <= largeGroupThreshold
        handOff(
          message.conversationId,
          recipients,
          msgId,
          message.priority,
          { kind: 'NewMessage', message },
          updateLists,
        )
      }

      // A user's action: deleting a message for themself (NP) and reading up to a message go
      // to their inbox (the read cursor is also kept here, for large groups' unread counts).
      // Reactions are merged over windows (the merge stage).
      const act = async ({ conversationId, userId, action }: Action) => {
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
        handOff(
          conversationId,
          [userId],
          `read:${userId}:${action.upToMsgId}`,
          'HIGH',
          payload,
          true,
        )
      }

      /** One hand-off record per user partition that owns some of the recipients. */
      const handOff = (
        conversationId: string,
        recipients: readonly string[],
        sourceId: string,
        priority: FanoutBatch['event']['priority'],
        payload: FanoutBatch['event']['payload'],
        updateLists: boolean,
      ) => {
        const event = { priority, payload }
        const byGeo = splitByGeo(recipients, options.geos)
        for (const [geo, users] of byGeo.remote) {
          // One forwarded record per remote geo; it splits its share by its own partitions.
          const batch: FanoutBatch = {
            partition: -1,
            recipients: users,
            sourceId,
            event,
            updateLists,
          }
          context.send(`geo:${geo}`, {
            key: conversationId,
            value: codecs.fanoutBatch.encode(batch),
          })
        }
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
              handOff(event.conversationId, joined, `joined:${at}`, 'LOW', change(true), true)
            if (left.length)
              handOff(event.conversationId, left, `left:${at}`, 'LOW', change(false), true)
            // A change every member's devices show (the mute state): one event per member.
            if (before && after && before.muted !== after.muted) {
              handOff(
                event.conversationId,
                await conversations.members(event.conversationId),
                `changed:${at}`,
                'LOW',
                {
                  kind: 'ConversationChanged',
                  conversationId: event.conversationId,
                  description: after.muted ? 'muted' : 'unmuted',
                },
                false,
              )
            }
          } else if (record.topic === topics.actions) {
            await act(record.value as Action)
          } else {
            await receive(record, record.value as SendMessage)
          }
        },
      }
    },
  })
}
