// The HTTP API (fastify). Routes are plugins registered here; each area adds its own.

import Fastify, { type FastifyInstance } from 'fastify'
import type { LogLevel } from '../../ops/log.js'
import type { Metrics } from '../../ops/metrics.js'
import { adminRoutes } from './admin-routes.js'
import { conversationRoutes } from './conversation-routes.js'
import { dashboardRoutes } from './dashboard-routes.js'
import { type HealthOptions, healthRoutes } from './health-routes.js'
import { homeRoutes } from './home-routes.js'
import { installLoadShedding, type LoadMonitor } from './load-shedding.js'
import { mergeRoutes } from './merge-routes.js'
import { messageRoutes } from './message-routes.js'
import type { Messaging } from './messaging.js'
import { installProblemHandlers } from './problem.js'
import { syncRoutes } from './sync-routes.js'

export interface ApiOptions extends HealthOptions {
  metrics: Metrics
  logLevel: LogLevel
  /** The /v1 routes; without it only health and metrics are served. */
  messaging?: Messaging
  /** Sheds load past these bounds (503 with Retry-After; /readyz tells). */
  load?: LoadMonitor
}

export async function buildApi(options: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: options.logLevel === 'debug' ? 'debug' : 'warn' },
  })
  const { httpRequests, httpDuration } = options.metrics
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    httpRequests.inc({ route, method: request.method, status: String(reply.statusCode) })
    httpDuration.observe({ route, method: request.method }, reply.elapsedTime / 1000)
  })
  installProblemHandlers(app)
  // Before any route: shed requests are answered before they cost anything.
  if (options.load) installLoadShedding(app, options.load)
  await app.register(healthRoutes, options)
  await app.register(dashboardRoutes)
  if (options.messaging) {
    await app.register(messageRoutes, options.messaging)
    await app.register(adminRoutes, options.messaging)
    const { queries, jwtSecret, publisher, codecs, topics, homes, units, users } = options.messaging
    if (queries) {
      await app.register(conversationRoutes, {
        jwtSecret,
        publisher,
        actions: { topic: topics.actions, codec: codecs['im.actions'] },
        largeGroupThreshold: options.messaging.largeGroupThreshold,
        catchUpLimit: options.messaging.catchUpLimit,
        ...queries,
        ...(homes ? { homes } : {}),
        ...(units ? { units } : {}),
        ...(users ? { users } : {}),
      })
      // What other geos' APIs ask about conversations homed here, for their users.
      await app.register(homeRoutes, { jwtSecret, receiver: queries.receiver })
      await app.register(syncRoutes, {
        jwtSecret,
        sync: queries.sync,
        ...(units ? { units } : {}),
        ...(users ? { users } : {}),
      })
      if (queries.merge) {
        const actions = { topic: topics.actions, codec: codecs['im.actions'] }
        await app.register(mergeRoutes, {
          jwtSecret,
          publisher,
          actions,
          merge: queries.merge,
          receiver: queries.receiver,
          ...(homes ? { homes } : {}),
          ...(units ? { units } : {}),
        })
      }
    }
  }
  return app
}
