// History roaming: GET /v1/conversations/:cid/messages?before=&limit=, for members only.
// (Normal messages, from the conversation's log; the caller's private messages and
// deletions merge in with the per-user inbox.)

import type { FastifyPluginAsync } from 'fastify'
import { ImflowError } from '../../ops/errors.js'
import type { ReceiverQueries } from '../../topologies/receiver/index.js'
import { authenticate } from './auth.js'

export interface HistoryOptions {
  jwtSecret: string
  receiver: ReceiverQueries
}

export const historyRoutes: FastifyPluginAsync<HistoryOptions> = async (
  app,
  { jwtSecret, receiver },
) => {
  app.addHook('onRequest', authenticate(jwtSecret))

  app.get<{ Params: { cid: string }; Querystring: { before?: string; limit: number } }>(
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
            limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
          },
        },
      },
    },
    async (request) => {
      const { cid } = request.params
      // Not a member, or no such conversation: the same answer, so existence does not leak.
      if (!(await receiver.isMember(cid, request.caller.sub))) {
        throw new ImflowError(
          'IMF_ERR_FORBIDDEN',
          `${request.caller.sub} is not a member of ${cid}`,
        )
      }
      const page = await receiver.history(cid, {
        before: request.query.before,
        limit: request.query.limit,
      })
      return {
        messages: page.messages.map((m) => ({
          msgId: m.msgId,
          senderId: m.senderId,
          type: m.type,
          body: m.body,
          createdAt: m.createdAt,
          priority: m.priority,
          visibility: m.visibility,
        })),
        next: page.next,
      }
    },
  )
}
