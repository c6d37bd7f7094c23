// The push gateway as a server of its own, for deployments that run gateways apart from the
// API (many gateways, few API instances): /v1/ws, /healthz and /readyz.

import Fastify from 'fastify'
import { installProblemHandlers } from '../http/problem.js'
import { createPushGateway, type PushGateway, type PushGatewayOptions } from './gateway.js'

export interface StandaloneGatewayOptions extends PushGatewayOptions {
  host?: string
  /** 0 picks a free port (see `url`). */
  port?: number
}

export interface RunningPushGateway {
  /** The server's base URL, e.g. http://127.0.0.1:8090 (devices connect to ws://.../v1/ws). */
  readonly url: string
  readonly gateway: PushGateway
  stop(): Promise<void>
}

export async function startPushGateway(
  options: StandaloneGatewayOptions,
): Promise<RunningPushGateway> {
  const gateway = await createPushGateway(options)
  const app = Fastify({ logger: false })
  try {
    installProblemHandlers(app)
    app.get('/healthz', async () => ({ status: 'ok' }))
    app.get('/readyz', async (_request, reply) => {
      const check = await gateway.probe()
      return reply
        .code(check.ok ? 200 : 503)
        .send({ status: check.ok ? 'ready' : 'not ready', checks: { push_gateway: check } })
    })
    await app.register(gateway.routes)
    const url = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 })
    return {
      url,
      gateway,
      async stop() {
        // The gateway first: its devices are logged out while the producer still runs.
        await gateway.stop()
        await app.close()
      },
    }
  } catch (err) {
    await gateway.stop()
    await app.close()
    throw err
  }
}
