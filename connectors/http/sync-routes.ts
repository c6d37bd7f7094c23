// GET /v1/sync?device=&after=&limit= — the caller's sync events after a PTS, oldest first:
// how a device catches up by pulling (after a Rebase, or when pushes are not enough). A user
// homed in another unit is answered by that unit, where their stream is (user-home-reads.ts).

import type { FastifyPluginAsync } from 'fastify'
import type { SyncQueries } from '../../topologies/sync/index.js'
import { authenticate } from './auth.js'
import { type UserHomeReads, userHomeAnswer } from './user-home-reads.js'

export interface SyncRouteOptions extends UserHomeReads {
  jwtSecret: string
  sync: SyncQueries
}

export const syncRoutes: FastifyPluginAsync<SyncRouteOptions> = async (app, options) => {
  app.addHook('onRequest', authenticate(options.jwtSecret))

  app.get<{ Querystring: { device?: string; after?: number; limit: number } }>(
    '/v1/sync',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            device: { type: 'string', minLength: 1, maxLength: 128 },
            after: { type: 'integer', minimum: 0 },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 200 },
          },
        },
      },
    },
    async (request) => {
      // A user homed in another unit: their stream is there.
      const atHome = await userHomeAnswer(options, request)
      if (atHome) return atHome
      const userId = request.caller.sub
      const { device, limit } = request.query
      // Without `after`, the device's cursor on the server (what it last acked).
      let after = request.query.after
      if (after === undefined) {
        const user = device ? await options.sync.user(userId) : undefined
        after = (device && user?.devices[device]?.acked) || 0
      }
      const page = await options.sync.after(userId, after, limit)
      return {
        headPts: page.headPts,
        rebase: page.rebase,
        events: page.events,
        hasMore: !page.rebase && (page.events.at(-1)?.pts ?? after) < page.headPts,
      }
    },
  )
}
