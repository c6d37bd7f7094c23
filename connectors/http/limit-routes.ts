// GET/PUT /v1/limits (admin): the capacity, the LOW deadline and the rate limits in force.
// A PUT replaces the whole document, validated, and answers once this instance applies it;
// every instance's receiver tasks see it from the limits topic (docs/shaping.md).

import type { FastifyPluginAsync } from 'fastify'
import { type Limits, limitsSchema } from '../../topologies/shaping/index.js'
import { authenticate, requireAdmin } from './auth.js'

export interface LimitRoutesOptions {
  jwtSecret: string
  limits: { current(): Limits; replace(limits: Limits): Promise<Limits> }
}

export const limitRoutes: FastifyPluginAsync<LimitRoutesOptions> = async (app, options) => {
  app.addHook('onRequest', authenticate(options.jwtSecret))
  app.addHook('onRequest', requireAdmin)

  app.get('/v1/limits', async () => options.limits.current())

  app.put<{ Body: Limits }>('/v1/limits', { schema: { body: limitsSchema } }, async (request) =>
    options.limits.replace(request.body),
  )
}
