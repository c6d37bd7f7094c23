// Admin routes: conversations and users. Each writes an event (im.conversations, im.users)
// that the topologies apply; the answer confirms the event was durably written.

import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { ImflowError } from '../../ops/errors.js'
import type { ConversationEvent } from '../../schemas/types.generated.js'
import { authenticate, requireAdmin } from './auth.js'
import type { Messaging } from './messaging.js'
import { checkMove, checkUnit } from './move-check.js'
import { userRoutes } from './user-routes.js'

const userIds = {
  type: 'array',
  items: { type: 'string', minLength: 1, maxLength: 256 },
  maxItems: 100_000,
} as const
const cidParams = {
  type: 'object',
  required: ['cid'],
  properties: { cid: { type: 'string', minLength: 1, maxLength: 256 } },
} as const

/** 100,000 member ids of up to 256 characters fit; fastify's default (1 MB) would not. */
const MEMBER_LIST_BODY_LIMIT = 32 * 1024 * 1024

/** User ids per conversation event: 10,000 ids stay far below Kafka's 1 MB record limit. */
const USER_IDS_PER_EVENT = 10_000

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += USER_IDS_PER_EVENT)
    out.push(items.slice(i, i + USER_IDS_PER_EVENT))
  return out
}

/**
 * Splits a change whose user list is too long for one record into several, in order: a
 * creation with the first members, then additions. Re-sending them is harmless (creation
 * happens once, additions and removals are idempotent).
 */
export function chunked(change: ConversationEvent['change']): ConversationEvent['change'][] {
  switch (change.kind) {
    case 'ConversationCreated': {
      const [first = [], ...rest] = chunks(change.members)
      return [
        { ...change, members: first },
        ...rest.map((userIds) => ({ kind: 'MembersAdded' as const, userIds })),
      ]
    }
    case 'MembersAdded':
    case 'MembersRemoved':
      return chunks(change.userIds).map((userIds) => ({ ...change, userIds }))
    default:
      return [change]
  }
}

/** Writes a conversation's changes to im.conversations, split where a user list is too long. */
async function publishChange(
  messaging: Messaging,
  conversationId: string,
  actorId: string,
  changes: ConversationEvent['change'][],
): Promise<void> {
  const codec = messaging.codecs['im.conversations']
  await messaging.publisher.publish(
    messaging.topics.conversations,
    changes.flatMap(chunked).map((c) => ({
      key: conversationId,
      value: codec.encode({ conversationId, actorId, at: Date.now(), change: c }),
    })),
  )
}

export const adminRoutes: FastifyPluginAsync<Messaging> = async (app, messaging) => {
  // onRequest: the caller is known (or refused) before the body is even parsed.
  app.addHook('onRequest', authenticate(messaging.jwtSecret))
  app.addHook('onRequest', requireAdmin)
  createConversationRoute(app, messaging)
  membersRoute(app, messaging)
  patchConversationRoute(app, messaging)
  userRoutes(app, messaging)
}

/** POST /v1/conversations: a SINGLE or GROUP conversation with its members. */
function createConversationRoute(app: FastifyInstance, messaging: Messaging): void {
  app.post<{
    Body: {
      conversationId?: string
      type: 'SINGLE' | 'GROUP'
      members: string[]
      admins?: string[]
      unit?: string
    }
  }>(
    '/v1/conversations',
    {
      bodyLimit: MEMBER_LIST_BODY_LIMIT,
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['type', 'members'],
          properties: {
            conversationId: { type: 'string', minLength: 1, maxLength: 256 },
            type: { type: 'string', enum: ['SINGLE', 'GROUP'] },
            members: { ...userIds, minItems: 1 },
            admins: userIds,
            unit: { type: 'string', maxLength: 64 },
          },
        },
      },
    },
    async (request, reply) => {
      const { type, members, admins = [], unit = '' } = request.body
      const distinct = new Set(members)
      if (type === 'SINGLE' && distinct.size !== 2) {
        throw new ImflowError(
          'IMF_ERR_BAD_REQUEST',
          'a SINGLE conversation has exactly two distinct members',
        )
      }
      checkUnit(messaging, unit)
      const conversationId = request.body.conversationId ?? randomUUID()
      // A 100,000-member group is more than one Kafka record can carry: chunked() splits it.
      await publishChange(messaging, conversationId, request.caller.sub, [
        {
          kind: 'ConversationCreated',
          conversationType: type,
          members: [...distinct],
          admins,
          unit,
        },
      ])
      return reply.code(201).send({ conversationId, members: distinct.size })
    },
  )
}

/** POST /v1/conversations/:cid/members: members added and removed. */
function membersRoute(app: FastifyInstance, messaging: Messaging): void {
  app.post<{ Params: { cid: string }; Body: { add?: string[]; remove?: string[] } }>(
    '/v1/conversations/:cid/members',
    {
      bodyLimit: MEMBER_LIST_BODY_LIMIT,
      schema: {
        params: cidParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { add: userIds, remove: userIds },
        },
      },
    },
    async (request, reply) => {
      const { add = [], remove = [] } = request.body
      if (add.length === 0 && remove.length === 0)
        throw new ImflowError('IMF_ERR_BAD_REQUEST', 'give add or remove')
      await publishChange(messaging, request.params.cid, request.caller.sub, [
        ...(add.length ? [{ kind: 'MembersAdded' as const, userIds: add }] : []),
        ...(remove.length ? [{ kind: 'MembersRemoved' as const, userIds: remove }] : []),
      ])
      return reply.code(202).send({ conversationId: request.params.cid })
    },
  )
}

/** PATCH /v1/conversations/:cid: its mute state or home unit. */
function patchConversationRoute(app: FastifyInstance, messaging: Messaging): void {
  app.patch<{ Params: { cid: string }; Body: { muted?: boolean; unit?: string } }>(
    '/v1/conversations/:cid',
    {
      schema: {
        params: cidParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { muted: { type: 'boolean' }, unit: { type: 'string', maxLength: 64 } },
        },
      },
    },
    async (request, reply) => {
      const { muted, unit } = request.body
      if (muted === undefined && unit === undefined)
        throw new ImflowError('IMF_ERR_BAD_REQUEST', 'give muted or unit')
      if (unit !== undefined) await checkMove(messaging, request.params.cid, unit)
      await publishChange(messaging, request.params.cid, request.caller.sub, [
        ...(muted === undefined ? [] : [{ kind: 'MuteChanged' as const, muted }]),
        ...(unit === undefined ? [] : [{ kind: 'UnitChanged' as const, unit }]),
      ])
      return reply.code(202).send({ conversationId: request.params.cid })
    },
  )
}
