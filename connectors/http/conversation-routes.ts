// History roaming for members: GET /v1/conversations/:cid/messages?before=&limit= (the
// conversation's log merged with the caller's private messages, without what they deleted),
// and DELETE /v1/conversations/:cid/messages/:msgId (delete for me). A user homed here acts
// on a conversation homed in another geo the same way: actions go there through this geo's
// receiver, the conversation's log is read there (home-client.ts), merged with the user's
// private messages and deletions kept here.

import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { ImflowError, isImflowError } from '../../ops/errors.js'
import type { EventCodec } from '../../schemas/codec.js'
import type { Action, StoredMessage } from '../../schemas/types.generated.js'
import {
  computedListEntry,
  type InboxQueries,
  summarize,
  userHistory,
  userMessagesAfter,
} from '../../topologies/inbox/index.js'
import { isLargeGroup, type ListRow } from '../../topologies/model/index.js'
import type { ReceiverQueries } from '../../topologies/receiver/index.js'
import {
  type ConversationList,
  type ConversationListEntry,
  catchUpPageSchema,
  conversationEntrySchema,
  conversationListSchema,
  type HistoryMessage,
  historyPageSchema,
} from '../protocol/api-responses.js'
import { authenticate } from './auth.js'
import { notMember, readHomeOf } from './conversation-home.js'
import type { GeoHomes } from './home-client.js'
import { HOME_READ_HEADER } from './home-routes.js'
import {
  homeHeaders,
  homeUnitAnswer,
  homeUnitEntry,
  homeUnitLog,
  locateHomeUnit,
  remoteHomeUnit,
  type UnitCaller,
  type UnitHomes,
} from './home-unit.js'
import { homeGeoSequence } from './large-group-head.js'
import type { Messaging } from './messaging.js'
import type { Publisher } from './publisher.js'
import { homedHere, userHomeAnswer } from './user-home-reads.js'

export interface ConversationRouteOptions {
  jwtSecret: string
  publisher: Publisher
  actions: { topic: string; codec: EventCodec<Action> }
  receiver: ReceiverQueries
  inbox: InboxQueries
  /** Above this many members a conversation's list entry is computed on read. */
  largeGroupThreshold: number
  /** A device further behind a large group than this many messages reloads its latest page. */
  catchUpLimit: number
  /** Conversations homed in other geos; without it only this geo's are served. */
  homes?: GeoHomes
  /**
   * Conversations homed in other units (IMFLOW_REMOTE_UNIT_URLS): this unit only routes them
   * and keeps none of their log, so their history and computed list entries are read at their
   * home unit.
   */
  units?: UnitHomes
  /** Users' homes: the list of a user homed in another unit is that unit's (user-home-reads.ts). */
  users?: Messaging['users']
}

export const conversationRoutes: FastifyPluginAsync<ConversationRouteOptions> = async (
  app,
  options,
) => {
  app.addHook('onRequest', authenticate(options.jwtSecret))
  historyRoute(app, options)
  deleteForMeRoute(app, options)
  readRoute(app, options)
  listRoutes(app, options)
}

type Caller = UnitCaller

/**
 * A member's action on the conversation: the same event producers may write to im.actions;
 * one homed in another geo, or in another unit (also one this unit never heard of), names its
 * home, and this receiver forwards it there (a conversation it knows goes where it knows).
 */
async function act(
  options: ConversationRouteOptions,
  conversationId: string,
  request: Caller,
  action: Action['action'],
): Promise<void> {
  const home = await readHomeOf(options, conversationId, request)
  // Checked there: it knows every member (a member it answers for is one).
  if (home.unit !== undefined) await homeUnitEntry(home.units, home.unit, request, conversationId)
  const event: Action = { conversationId, userId: request.caller.sub, at: Date.now(), action }
  await options.publisher.publish(options.actions.topic, [
    {
      key: conversationId,
      value: options.actions.codec.encode(event),
      headers: homeHeaders(home),
    },
  ])
}

/**
 * The caller's entry for one conversation. Small groups' entries were kept up to date at send
 * time; large groups' (and a small group's whose last message the caller deleted) are
 * computed now from what the caller sees and their read cursor. A conversation this unit
 * only routes, or has never heard of (found by asking the units), is its home unit's entry
 * (its size, seq, log and cursors are there; the row of a caller homed here is here). A conversation homed in another geo (or whose partition no task here serves) is
 * shown from the row kept here. A conversation kept here that no longer counts the caller a
 * member has no entry (undefined): the row may not have caught up with a removal yet.
 */
async function entryOf(
  options: ConversationRouteOptions,
  conversationId: string,
  request: Caller,
  row: ListRow | undefined,
): Promise<ConversationListEntry | undefined> {
  const { receiver, inbox } = options
  const userId = request.caller.sub
  const meta = await receiver.conversation(conversationId).catch((err) => {
    if (isImflowError(err, 'IMF_ERR_NOT_READY')) return undefined
    throw err
  })
  const unit = meta
    ? await remoteHomeUnit(options.units, receiver, conversationId, request.headers)
    : await locateHomeUnit(options.units, conversationId, request)
  if (unit !== undefined && options.units) {
    const home = await homeUnitEntry(options.units, unit, request, conversationId)
    // A caller homed here (docs/units.md) has a small group's row here, not at its home.
    return row && !home.large ? { ...home, unread: row.unread, last: row.last ?? null } : home
  }
  if (!meta) return remoteGeoEntry(options, conversationId, request, row)
  if (!(await receiver.isMember(conversationId, userId))) return undefined
  const large = isLargeGroup(meta.memberCount, options.largeGroupThreshold)
  const computed =
    large || !row || row.lastDeleted
      ? await computedListEntry(receiver, inbox, conversationId, userId, UNREAD_CAP)
      : undefined
  return {
    conversationId,
    type: meta.type,
    memberCount: meta.memberCount,
    muted: meta.muted,
    large,
    // Where a large group's devices catch up to (its messages' seq).
    ...(large ? { seq: meta.seq ?? 0 } : {}),
    unread: computed && (large || !row) ? computed.unread : (row?.unread ?? 0),
    last: computed ? (computed.last ? summarize(computed.last) : null) : (row?.last ?? null),
  }
}

/**
 * A conversation homed in another geo: the row kept here, and, for a large group, its size
 * and seq as its home counts them (where the caller's devices catch up to). A home that does
 * not answer, or no longer counts the caller a member: the row alone.
 */
async function remoteGeoEntry(
  options: ConversationRouteOptions,
  conversationId: string,
  request: Caller,
  row: ListRow | undefined,
): Promise<ConversationListEntry> {
  const entry = rowEntry(conversationId, row)
  // Asked by another geo's API: answered from what is kept here, never asked on.
  if (!options.homes || request.headers[HOME_READ_HEADER] !== undefined) return entry
  const authorization = request.headers.authorization ?? ''
  const at = await homeGeoSequence(options.homes, conversationId, request.caller.sub, authorization)
  if (!at || !isLargeGroup(at.memberCount, options.largeGroupThreshold)) return entry
  return { ...entry, memberCount: at.memberCount, large: true, seq: at.seq }
}

/** An entry as the row kept here shows it: a conversation this API cannot read at its home. */
function rowEntry(conversationId: string, row: ListRow | undefined): ConversationListEntry {
  return {
    conversationId,
    remote: true,
    large: false,
    unread: row?.unread ?? 0,
    last: row?.last ?? null,
  }
}

/** GET /v1/conversations/:cid/messages: a history page (before), or a large group's catch-up (after). */
function historyRoute(app: FastifyInstance, options: ConversationRouteOptions): void {
  const { inbox } = options
  app.get<{
    Params: { cid: string }
    Querystring: { before?: string; after?: number; limit: number }
  }>(
    '/v1/conversations/:cid/messages',
    {
      schema: {
        params: {
          type: 'object',
          required: ['cid'],
          properties: { cid: { type: 'string', minLength: 1, maxLength: 256 } },
        },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            before: { type: 'string', minLength: 1, maxLength: 512 },
            // A large group's seq: the messages after it, oldest first (catching up).
            after: { type: 'integer', minimum: 0 },
            limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
          },
        },
        response: { 200: { anyOf: [historyPageSchema, catchUpPageSchema] } },
      },
    },
    async (request) => {
      // The caller's private messages and deletions are kept at their home unit: its page.
      const atHome = await userHomeAnswer<object>(options, request)
      if (atHome) return atHome
      const { cid } = request.params
      const home = await readHomeOf(options, cid, request)
      // The home unit's page: its log merged with the caller's private messages and
      // deletions there (what the caller sent or deleted through any unit is applied there) —
      // unless the caller is homed here: then those are here, and the home's log is merged here.
      if (home.unit !== undefined && !homedHere(options, request))
        return homeUnitAnswer(home.units, home.unit, request, cid, request.url)
      const log =
        home.unit === undefined ? home.log : await homeUnitLog(home.units, home.unit, request, cid)
      if (request.query.after !== undefined) {
        if (request.query.before !== undefined)
          throw new ImflowError('IMF_ERR_BAD_REQUEST', 'give before or after, not both')
        const page = await userMessagesAfter(log, inbox, {
          conversationId: cid,
          userId: request.caller.sub,
          after: request.query.after,
          limit: request.query.limit,
          reloadPast: options.catchUpLimit,
        })
        return { ...page, messages: page.messages.map(historyMessage) }
      }
      const page = await userHistory(log, inbox, {
        conversationId: cid,
        userId: request.caller.sub,
        before: request.query.before,
        limit: request.query.limit,
      })
      return { messages: page.messages.map(historyMessage), next: page.next }
    },
  )
}

/** DELETE /v1/conversations/:cid/messages/:msgId: deleted for the caller only. */
function deleteForMeRoute(app: FastifyInstance, options: ConversationRouteOptions): void {
  app.delete<{ Params: { cid: string; msgId: string } }>(
    '/v1/conversations/:cid/messages/:msgId',
    {
      schema: {
        params: {
          type: 'object',
          required: ['cid', 'msgId'],
          properties: {
            cid: { type: 'string', minLength: 1, maxLength: 256 },
            msgId: { type: 'string', pattern: '^[0-9]{1,19}$' },
          },
        },
      },
    },
    async (request, reply) => {
      const { cid, msgId } = request.params
      // Delete for me (NP): applied to the caller's inbox only.
      await act(options, cid, request, { kind: 'DeletedForMe', msgId })
      return reply.code(202).send({ conversationId: cid, msgId, deletedFor: request.caller.sub })
    },
  )
}

/** POST /v1/conversations/:cid/read: a read receipt up to a message. */
function readRoute(app: FastifyInstance, options: ConversationRouteOptions): void {
  app.post<{ Params: { cid: string }; Body: { msgId: string } }>(
    '/v1/conversations/:cid/read',
    {
      schema: {
        params: {
          type: 'object',
          required: ['cid'],
          properties: { cid: { type: 'string', minLength: 1, maxLength: 256 } },
        },
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['msgId'],
          properties: { msgId: { type: 'string', pattern: '^[0-9]{1,19}$' } },
        },
      },
    },
    async (request, reply) => {
      const { cid } = request.params
      await act(options, cid, request, { kind: 'ReadReceipt', upToMsgId: request.body.msgId })
      return reply.code(202).send({ conversationId: cid, upToMsgId: request.body.msgId })
    },
  )
}

/** GET /v1/conversations (the caller's list, most recent first) and /v1/conversations/:cid (one entry). */
function listRoutes(app: FastifyInstance, options: ConversationRouteOptions): void {
  const { inbox } = options
  // The caller's conversations, most recent first.
  app.get(
    '/v1/conversations',
    { schema: { response: { 200: conversationListSchema } } },
    async (request): Promise<ConversationList> => {
      const atHome = await userHomeAnswer<ConversationList>(options, request)
      if (atHome) return atHome
      const userId = request.caller.sub
      const entries: ConversationListEntry[] = []
      for await (const { conversationId, row } of inbox.conversations(userId)) {
        // A home unit that does not answer (or no longer counts the caller a member) costs
        // that entry its freshness, not the whole list.
        const entry = await entryOf(options, conversationId, request, row).catch((err) => {
          if (
            isImflowError(err, 'IMF_ERR_PEER_UNAVAILABLE') ||
            isImflowError(err, 'IMF_ERR_FORBIDDEN')
          )
            return rowEntry(conversationId, row)
          throw err
        })
        if (entry) entries.push(entry)
      }
      entries.sort((a, b) => (b.last?.createdAt ?? 0) - (a.last?.createdAt ?? 0))
      return { conversations: entries }
    },
  )

  // One of the caller's conversations, as its list entry; members only (a gateway asks it when
  // a membership event arrives before the caller's list has caught up).
  app.get<{ Params: { cid: string } }>(
    '/v1/conversations/:cid',
    {
      schema: {
        params: {
          type: 'object',
          required: ['cid'],
          properties: { cid: { type: 'string', minLength: 1, maxLength: 256 } },
        },
        response: { 200: conversationEntrySchema },
      },
    },
    async (request) => {
      // The caller's row (unread, last message) is kept at their home unit: its entry.
      const atHome = await userHomeAnswer<ConversationListEntry>(options, request)
      if (atHome) return atHome
      const { cid } = request.params
      await readHomeOf(options, cid, request)
      const entry = await entryOf(
        options,
        cid,
        request,
        await inbox.listRow(request.caller.sub, cid),
      )
      if (!entry) throw notMember(request.caller.sub, cid)
      return entry
    },
  )
}

/** A message of a history or catch-up page; seq only for large groups' sequenced messages. */
function historyMessage(m: StoredMessage): HistoryMessage {
  return {
    msgId: m.msgId,
    senderId: m.senderId,
    type: m.type,
    body: m.body,
    createdAt: m.createdAt,
    priority: m.priority,
    visibility: m.visibility,
    ...(m.seq > 0 ? { seq: m.seq } : {}),
  }
}

/** Large groups' unread counts are counted up to this (shown as "99+" by clients). */
const UNREAD_CAP = 100
