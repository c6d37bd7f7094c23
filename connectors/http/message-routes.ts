// POST /v1/messages: writes a SendMessage to im.ingest and answers with its receipt. A
// conversation this unit's receiver does not know — homed in another geo, or created through
// another unit's API (acting from home) — is marked with its home, where the receiver forwards
// it; the home's receipt comes back here.

import { randomUUID } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'
import { ImflowError, isImflowError } from '../../ops/errors.js'
import type { SendMessage } from '../../schemas/types.generated.js'
import { HOME_GEO_HEADER, HOME_UNIT_HEADER } from '../../topologies/receiver/index.js'
import { APPLICATION_HEADER, CLIENT_TYPE_HEADER } from '../../topologies/shaping/index.js'
import { type Accepted, acceptedSchema } from '../protocol/api-responses.js'
import { authenticate } from './auth.js'
import { locateHomeUnit, type UnitCaller } from './home-unit.js'
import type { Messaging } from './messaging.js'

const sendBody = {
  type: 'object',
  additionalProperties: false,
  required: ['conversationId', 'clientMsgId', 'type', 'body'],
  properties: {
    conversationId: { type: 'string', minLength: 1, maxLength: 256 },
    clientMsgId: { type: 'string', minLength: 1, maxLength: 128 },
    type: { type: 'string', enum: ['TEXT', 'IMAGE', 'FILE', 'CARD', 'SYSTEM'] },
    body: { type: 'string' },
    priority: { type: 'string', enum: ['HIGH', 'LOW'], default: 'HIGH' },
    visibility: { type: 'string', enum: ['NORMAL', 'PRIVATE'], default: 'NORMAL' },
    targets: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      maxItems: 10_000,
      default: [],
    },
  },
} as const

type SendBody = Pick<
  SendMessage,
  'conversationId' | 'clientMsgId' | 'type' | 'body' | 'priority' | 'visibility' | 'targets'
>

/**
 * What the rate limits key on: the client type the caller names (its app platform) and the
 * calling application, from the token's `app` claim only (signed, so not spoofable).
 */
function limitHeaders(clientType: unknown, app: unknown): Record<string, string> {
  const headers: Record<string, string> = {}
  if (typeof clientType === 'string' && clientType.trim() !== '')
    headers[CLIENT_TYPE_HEADER] = clientType.trim().slice(0, 64)
  if (typeof app === 'string' && app !== '') headers[APPLICATION_HEADER] = app.slice(0, 256)
  return headers
}

/**
 * Where the receiver sends a message of a conversation it does not know: the home geo, or the
 * unit whose API counts the sender a member (a conversation created through another unit's
 * API), named in a header. Nothing (the receiver decides here) when it is known here, or its
 * state cannot be read now.
 */
async function remoteHome(
  messaging: Messaging,
  conversationId: string,
  request: UnitCaller,
): Promise<Record<string, string>> {
  const { homes, units, queries } = messaging
  if ((!homes && !units) || !queries) return {}
  const known = await queries.receiver.conversation(conversationId).catch((err) => {
    if (isImflowError(err, 'IMF_ERR_NOT_READY')) return 'unreadable'
    throw err
  })
  if (known !== undefined) return {}
  const authorization = request.headers.authorization ?? ''
  const geo = await homes?.locate(conversationId, request.caller.sub, authorization)
  if (geo !== undefined) return { [HOME_GEO_HEADER]: geo }
  const unit = await locateHomeUnit(units, conversationId, request)
  return unit === undefined ? {} : { [HOME_UNIT_HEADER]: unit }
}

export const messageRoutes: FastifyPluginAsync<Messaging> = async (app, messaging) => {
  // onRequest: the caller is known (or refused) before the body is even parsed.
  app.addHook('onRequest', authenticate(messaging.jwtSecret))

  app.post<{ Body: SendBody }>(
    '/v1/messages',
    {
      schema: {
        body: sendBody,
        response: { 200: acceptedSchema },
      },
    },
    async (request): Promise<Accepted> => {
      const message: SendMessage = {
        ...request.body,
        senderId: request.caller.sub,
        sentAt: Date.now(),
      }
      const requestId = randomUUID()
      const shapingHeaders = limitHeaders(request.headers[CLIENT_TYPE_HEADER], request.caller.app)
      const home = await remoteHome(messaging, message.conversationId, request)
      const answer = messaging.receipts.wait(requestId, messaging.requestTimeoutMs)
      // Awaited below once the message is written; a write slower than the timeout (the
      // broker gone) must not leave its rejection unhandled meanwhile.
      answer.catch(() => {})
      try {
        await messaging.publisher.publish(messaging.topics.ingest, [
          {
            key: message.conversationId,
            value: messaging.codecs['im.ingest'].encode(message),
            headers: {
              'imflow-reply-to': messaging.receipts.instanceId,
              'imflow-request-id': requestId,
              ...shapingHeaders,
              ...home,
            },
          },
        ])
      } catch (err) {
        messaging.receipts.cancel(requestId)
        throw new ImflowError(
          'IMF_ERR_KAFKA_UNAVAILABLE',
          `could not write the message: ${String(err)}`,
          { cause: err },
        )
      }
      const { outcome } = await answer
      switch (outcome.kind) {
        case 'Accepted':
          return {
            msgId: outcome.msgId,
            createdAt: outcome.createdAt,
            conversationId: message.conversationId,
            clientMsgId: message.clientMsgId,
          }
        case 'Rejected':
          // Not being allowed to speak is a permission problem; the rest is about the message.
          throw new ImflowError(
            outcome.reason === 'NOT_MEMBER' || outcome.reason === 'MUTED'
              ? 'IMF_ERR_FORBIDDEN'
              : 'IMF_ERR_REJECTED',
            outcome.detail || outcome.reason,
            { details: { reason: outcome.reason } },
          )
        case 'Throttled':
          throw new ImflowError('IMF_ERR_THROTTLED', `throttled: ${outcome.reason}`, {
            details: { reason: outcome.reason, retryAfterMs: outcome.retryAfterMs },
          })
      }
    },
  )
}
