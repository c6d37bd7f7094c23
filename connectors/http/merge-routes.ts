// Reactions and the merged totals of a message, for members:
//   POST /v1/conversations/:cid/messages/:msgId/reactions {emoji, op: add|remove} — written to
//     im.actions as the same ReactionChanged producers may write; one reaction per user per
//     emoji, so repeating a request changes nothing;
//   GET  .../reads     — how many members have read it (and who, for groups up to the threshold);
//   GET  .../reactions — counts per emoji (and who, for groups up to the threshold).
// A member of a conversation homed in another geo, or in another unit (this one only routes
// it, or never heard of it), reacts through this API and gets the home's totals, asked there.

import type { FastifyPluginAsync } from 'fastify'
import { ImflowError } from '../../ops/errors.js'
import type { EventCodec } from '../../schemas/codec.js'
import type { Action } from '../../schemas/types.generated.js'
import { emojiProblem, MAX_EMOJI_CHARS, type MergeQueries } from '../../topologies/merge/index.js'
import type { ReceiverQueries } from '../../topologies/receiver/index.js'
import { authenticate } from './auth.js'
import type { GeoHomes } from './home-client.js'
import { HOME_READ_HEADER } from './home-routes.js'
import {
  homeHeaders,
  homeUnitAnswer,
  homeUnitEntry,
  locateHomeUnit,
  remoteHomeUnit,
  type UnitHomes,
} from './home-unit.js'
import type { Publisher } from './publisher.js'

export interface MergeRouteOptions {
  jwtSecret: string
  publisher: Publisher
  actions: { topic: string; codec: EventCodec<Action> }
  merge: MergeQueries
  /** Conversations homed in other geos: a reaction to one goes there (acting from home). */
  homes?: GeoHomes
  /** Conversations homed in other units (IMFLOW_REMOTE_UNIT_URLS): their totals are read there. */
  units?: UnitHomes
  /**
   * Who is a member, and where a conversation is homed (with `units`): the receiver's word,
   * which a group's creation receipt already reflects (the merge's copy may lag it).
   */
  receiver: Pick<ReceiverQueries, 'conversation' | 'isMember'>
}

const messageParams = {
  type: 'object',
  required: ['cid', 'msgId'],
  properties: {
    cid: { type: 'string', minLength: 1, maxLength: 256 },
    msgId: { type: 'string', pattern: '^[0-9]{1,19}$' },
  },
} as const

type MessageParams = { Params: { cid: string; msgId: string } }
/** The caller's bearer token (a remote geo or unit is asked with it); a remote API's mark. */
type Caller = { headers: { authorization?: string; [HOME_READ_HEADER]?: string | string[] } }

export const mergeRoutes: FastifyPluginAsync<MergeRouteOptions> = async (app, options) => {
  const { merge } = options
  app.addHook('onRequest', authenticate(options.jwtSecret))

  // Not a member, or no such conversation: the same answer, so existence does not leak.
  const mustBeMember = async (conversationId: string, userId: string) => {
    if (!(await options.receiver.isMember(conversationId, userId)))
      throw new ImflowError('IMF_ERR_FORBIDDEN', `${userId} is not a member of ${conversationId}`)
  }

  /**
   * Where the caller's conversation is acted on and counted: in another unit this one only
   * routes (it knows every member; here only those added through this unit are known); here,
   * for a member here; in another geo; or in the unit whose API counts the caller a member of
   * one this unit never heard of. Neither: here (and so 403 for a non-member).
   */
  const unitOrGeo = async (
    request: Caller & { params: { cid: string }; caller: { sub: string } },
  ): Promise<{ unit?: string; geo?: string }> => {
    const { cid } = request.params
    const userId = request.caller.sub
    const routed = await remoteHomeUnit(options.units, options.receiver, cid, request.headers)
    if (routed !== undefined) return { unit: routed }
    if (await options.receiver.isMember(cid, userId)) return {}
    // Asked by another API: answered from what is here, never asked on (home-unit.ts).
    if (request.headers[HOME_READ_HEADER] !== undefined) return {}
    const geo = await options.homes?.locate(cid, userId, request.headers.authorization ?? '')
    if (geo !== undefined) return { geo }
    const unit = await locateHomeUnit(options.units, cid, request)
    return unit === undefined ? {} : { unit }
  }

  app.post<MessageParams & { Body: { emoji: string; op: 'add' | 'remove' } }>(
    '/v1/conversations/:cid/messages/:msgId/reactions',
    {
      schema: {
        params: messageParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['emoji', 'op'],
          properties: {
            emoji: { type: 'string', minLength: 1, maxLength: MAX_EMOJI_CHARS },
            op: { type: 'string', enum: ['add', 'remove'] },
          },
        },
      },
    },
    async (request, reply) => {
      const { cid, msgId } = request.params
      const { emoji, op } = request.body
      const problem = emojiProblem(emoji)
      if (problem) throw new ImflowError('IMF_ERR_BAD_REQUEST', problem)
      const userId = request.caller.sub
      // A member as the home counts them; merged there.
      const home = await unitOrGeo(request)
      if (home.unit !== undefined && options.units)
        await homeUnitEntry(options.units, home.unit, request, cid)
      else if (home.geo === undefined) await mustBeMember(cid, userId)
      const event: Action = {
        conversationId: cid,
        userId,
        at: Date.now(),
        action: { kind: 'ReactionChanged', msgId, emoji, op: op === 'add' ? 'ADD' : 'REMOVE' },
      }
      await options.publisher.publish(options.actions.topic, [
        { key: cid, value: options.actions.codec.encode(event), headers: homeHeaders(home) },
      ])
      return reply.code(202).send({ conversationId: cid, msgId, emoji, op })
    },
  )

  /**
   * A message's totals, merged where its conversation is homed: here; or the home's answer
   * to the same request, asked with the caller's token (its read cursors and merge windows are
   * there) — for a conversation homed in another unit this one only routes, or for a member
   * of one homed in another geo. A request another geo's API made on a user's behalf is
   * answered from what is here (one hop); one another unit's API made is asked on only if this
   * unit moved the conversation on (home-unit.ts, bounded).
   */
  const totals = async <T>(
    request: { params: { cid: string; msgId: string }; caller: { sub: string } } & Caller,
    which: 'reads' | 'reactions',
    local: () => Promise<T>,
  ): Promise<T> => {
    const { cid, msgId } = request.params
    const userId = request.caller.sub
    const authorization = request.headers.authorization ?? ''
    const path = `/v1/conversations/${encodeURIComponent(cid)}/messages/${msgId}/${which}`
    const home = await unitOrGeo(request)
    if (home.unit !== undefined && options.units)
      return homeUnitAnswer<T>(options.units, home.unit, request, cid, path)
    if (home.geo === undefined || !options.homes) {
      await mustBeMember(cid, userId)
      return local()
    }
    const answer = await options.homes.read<T>(home.geo, authorization, path)
    if (answer === undefined)
      throw new ImflowError('IMF_ERR_FORBIDDEN', `${userId} is not a member of ${cid}`)
    return answer
  }

  app.get<MessageParams>(
    '/v1/conversations/:cid/messages/:msgId/reads',
    { schema: { params: messageParams } },
    (request) =>
      totals(request, 'reads', () => merge.reads(request.params.cid, request.params.msgId)),
  )

  app.get<MessageParams>(
    '/v1/conversations/:cid/messages/:msgId/reactions',
    { schema: { params: messageParams } },
    (request) =>
      totals(request, 'reactions', () => merge.reactions(request.params.cid, request.params.msgId)),
  )
}
