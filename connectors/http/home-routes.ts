// A conversation's home geo answers what another geo's API asks on behalf of one of its users
// (home-client.ts): whether the caller is a member, and the conversation's own state — its
// log of normal messages, size and seq, the caller's read cursor. The caller's private
// messages and deletions are in their own geo's inbox, which merges them in there, so the
// answer is the one the home geo gives its own users. Members only, with the caller's token.

import type { FastifyPluginAsync } from 'fastify'
import { ImflowError } from '../../ops/errors.js'
import type { ReceiverQueries } from '../../topologies/receiver/index.js'
import { authenticate } from './auth.js'

export const HOME_PATH = '/v1/home/conversations'
/**
 * Marks a request one deployment's API makes to another's on a user's behalf (home-client.ts),
 * with how many APIs have asked on so far. A geo answers it with what is kept there, never
 * asking on. A unit that no longer homes the conversation (it moved it on) asks the home it
 * knows in turn, up to MAX_HOME_READ_HOPS (home-unit.ts), as it passes forwarded records on:
 * so two units that disagree about a conversation's home do not bounce a read for ever.
 */
export const HOME_READ_HEADER = 'imflow-home-read'
/** APIs a read is asked through at most (each follows one move; the bound stops a loop). */
export const MAX_HOME_READ_HOPS = 8
/** Log entries one request returns at most. */
export const HOME_PAGE = 200

export interface HomeRouteOptions {
  jwtSecret: string
  receiver: ReceiverQueries
}

const cid = {
  type: 'object',
  required: ['cid'],
  properties: { cid: { type: 'string', minLength: 1, maxLength: 256 } },
} as const

export const homeRoutes: FastifyPluginAsync<HomeRouteOptions> = async (app, options) => {
  const { receiver } = options
  app.addHook('onRequest', authenticate(options.jwtSecret))
  // Not a member, or not homed here: one answer, so existence does not leak.
  app.addHook('preHandler', async (request) => {
    const { cid: conversationId } = request.params as { cid: string }
    if (!(await receiver.isMember(conversationId, request.caller.sub)))
      throw new ImflowError(
        'IMF_ERR_FORBIDDEN',
        `${request.caller.sub} is not a member of ${conversationId} here`,
      )
  })

  app.get<{ Params: { cid: string } }>(
    `${HOME_PATH}/:cid`,
    { schema: { params: cid } },
    async (request) => {
      const { cid: conversationId } = request.params
      return {
        conversationId,
        sequence: (await receiver.sequence(conversationId)) ?? null,
        readCursor: (await receiver.readCursor(conversationId, request.caller.sub)) ?? null,
      }
    },
  )

  app.get<{ Params: { cid: string }; Querystring: { before?: string; limit: number } }>(
    `${HOME_PATH}/:cid/log`,
    {
      schema: {
        params: cid,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            before: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,512}$' },
            limit: { type: 'integer', minimum: 1, maximum: HOME_PAGE, default: HOME_PAGE },
          },
        },
      },
    },
    async (request) => {
      const { before, limit } = request.query
      const entries: { position: string; message: unknown }[] = []
      const from = before === undefined ? undefined : Buffer.from(before, 'base64url')
      for await (const { position, message } of receiver.log(request.params.cid, from)) {
        entries.push({ position: position.toString('base64url'), message })
        if (entries.length >= limit) break
      }
      return { entries }
    },
  )

  app.get<{ Params: { cid: string }; Querystring: { after: number; limit: number } }>(
    `${HOME_PATH}/:cid/after`,
    {
      schema: {
        params: cid,
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['after'],
          properties: {
            after: { type: 'integer', minimum: 0 },
            limit: { type: 'integer', minimum: 1, maximum: HOME_PAGE, default: HOME_PAGE },
          },
        },
      },
    },
    async (request) => ({
      messages: await receiver.messagesAfter(
        request.params.cid,
        request.query.after,
        request.query.limit,
      ),
    }),
  )
}
