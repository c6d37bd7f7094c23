// PUT /v1/users/:uid {geo, unit}: a user's home geo and home unit, one record on im.users
// (compacted, keyed by user). The part a PUT leaves out is kept from this instance's replica
// of im.users. A home unit must be one this unit can forward to (checkUnit: 422
// IMF_ERR_UNIT_UNREACHABLE naming it). The record is written to this unit's im.users and to
// every other unit's (IMFLOW_REMOTE_UNITS), so every unit hands the user's share to the same
// home, and the unit the user leaves sends their list rows after them (docs/units.md).
// GET /v1/users/:uid answers what this instance's replica holds.

import type { FastifyInstance } from 'fastify'
import { ImflowError } from '../../ops/errors.js'
import type { UserEvent } from '../../schemas/types.generated.js'
import { normalizeUnit } from '../../topologies/receiver/index.js'
import type { Messaging } from './messaging.js'
import { checkUnit } from './move-check.js'

const uidParams = {
  type: 'object',
  required: ['uid'],
  properties: { uid: { type: 'string', minLength: 1, maxLength: 256 } },
} as const

/** The answer of both routes: the user's homes ("" unit: no home unit). */
const homes = (e: UserEvent) => ({ userId: e.userId, geo: e.geo, unit: e.unit ?? '' })

/** The record a PUT writes: what it gives over what the replica holds (geo: this one's). */
export function nextUserEvent(
  userId: string,
  body: { geo?: string; unit?: string },
  kept: UserEvent | undefined,
  localGeo: string,
  at: number,
): UserEvent {
  const unit = body.unit === undefined ? (kept?.unit ?? '') : normalizeUnit(body.unit)
  return { userId, geo: body.geo ?? kept?.geo ?? localGeo, at, unit: unit === '' ? null : unit }
}

export function userRoutes(app: FastifyInstance, messaging: Messaging): void {
  app.put<{ Params: { uid: string }; Body: { geo?: string; unit?: string } }>(
    '/v1/users/:uid',
    {
      schema: {
        params: uidParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            geo: { type: 'string', minLength: 1, maxLength: 64 },
            unit: { type: 'string', maxLength: 64 },
          },
        },
      },
    },
    async (request, reply) => {
      const { geo, unit } = request.body
      if (geo === undefined && unit === undefined)
        throw new ImflowError('IMF_ERR_BAD_REQUEST', 'give geo or unit')
      if (unit !== undefined) checkUnit(messaging, unit)
      const { uid } = request.params
      const kept = messaging.users?.current(uid)
      const event = nextUserEvent(uid, request.body, kept, messaging.users?.geo ?? '', Date.now())
      const record = { key: uid, value: messaging.codecs['im.users'].encode(event) }
      for (const topic of [messaging.topics.users, ...(messaging.users?.remoteTopics ?? [])])
        await messaging.publisher.publish(topic, [record])
      return reply.code(202).send(homes(event))
    },
  )

  app.get<{ Params: { uid: string } }>(
    '/v1/users/:uid',
    { schema: { params: uidParams } },
    async (request) => {
      const kept = messaging.users?.current(request.params.uid)
      if (!kept)
        throw new ImflowError('IMF_ERR_NOT_FOUND', `no home is set for ${request.params.uid}`)
      return homes(kept)
    },
  )
}
