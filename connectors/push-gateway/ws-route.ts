// GET /v1/ws?device=&lastPts=&class= — a device's long connection, as a fastify plugin. The
// JWT comes in the Authorization header or, for browsers (which cannot set headers on a
// WebSocket), as ?token=; without a valid one the upgrade is refused with a 401 problem.

import websocket from '@fastify/websocket'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { RawData, WebSocket } from 'ws'
import { ImflowError } from '../../ops/errors.js'
import type { Logger } from '../../ops/log.js'
import type { DeviceClass, DeviceEvent } from '../../schemas/types.generated.js'
import { type Claims, verifyToken } from '../http/jwt.js'
import { closeCodes, deviceClasses, parseClientFrame } from '../protocol/frames.js'
import type { DeviceReporter } from './device-reporter.js'
import type { RoomDelivery } from './room-delivery.js'
import type { DeviceSession, DeviceSessions } from './sessions.js'

export interface WsRouteOptions {
  jwtSecret: string
  gatewayId: string
  sessions: DeviceSessions<WebSocket>
  reporter: DeviceReporter
  rooms: RoomDelivery<WebSocket>
  /** False while the gateway stops: new connections are refused (503). */
  accepting(): boolean
  /**
   * A user whose stream is kept elsewhere (another unit): the reason their device is refused
   * (400, which a client does not retry); undefined: served here.
   */
  elsewhere?: (userId: string) => string | undefined
  log: Logger
}

interface WsQuery {
  device: string
  lastPts: number
  class: DeviceClass
  token?: string
}

/** Client frames are tiny (acks); anything large is a mistake or abuse. */
const MAX_FRAME_BYTES = 4_096

function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization
  if (header) {
    const match = /^Bearer\s+(\S+)$/i.exec(header)
    if (match?.[1]) return match[1]
  } else {
    const token = (request.query as { token?: unknown }).token
    if (typeof token === 'string' && token !== '') return token
  }
  throw new ImflowError(
    'IMF_ERR_UNAUTHORIZED',
    'send Authorization: Bearer <JWT>, or ?token=<JWT> where headers cannot be set',
  )
}

function text(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  return Buffer.from(data as Buffer).toString('utf8')
}

export const wsRoute: FastifyPluginAsync<WsRouteOptions> = async (app, options) => {
  const { sessions, reporter, rooms, gatewayId, log } = options
  if (!app.hasDecorator('websocketServer')) {
    await app.register(websocket, { options: { maxPayload: MAX_FRAME_BYTES } })
  }
  const callers = new WeakMap<FastifyRequest, { claims: Claims; token: string }>()
  app.addHook('onRequest', async (request) => {
    if (!options.accepting())
      throw new ImflowError('IMF_ERR_NOT_READY', 'the push gateway is stopping')
    const token = bearerToken(request)
    const claims = verifyToken(token, options.jwtSecret)
    // Connected here it would be pushed nothing: the user's events are sequenced at their home.
    const away = options.elsewhere?.(claims.sub)
    if (away !== undefined) throw new ImflowError('IMF_ERR_BAD_REQUEST', away)
    callers.set(request, { claims, token })
    if (!request.ws)
      throw new ImflowError('IMF_ERR_BAD_REQUEST', 'GET /v1/ws needs a WebSocket upgrade')
  })

  /** Acks and log-outs that fail are logged by the reporter and repaired by re-sends. */
  const report = (event: DeviceEvent) => reporter.report(event).catch(() => {})

  app.get<{ Querystring: WsQuery }>(
    '/v1/ws',
    {
      websocket: true,
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['device'],
          properties: {
            device: { type: 'string', minLength: 1, maxLength: 128 },
            lastPts: { type: 'integer', minimum: 0, default: 0 },
            class: { type: 'string', enum: [...deviceClasses], default: 'MOBILE' },
            token: { type: 'string', minLength: 1, maxLength: 8_192 },
          },
        },
      },
    },
    (socket, request) => {
      const { claims, token } = callers.get(request) as { claims: Claims; token: string }
      const userId = claims.sub
      const { device: deviceId, lastPts, class: deviceClass } = request.query
      const session: DeviceSession<WebSocket> = { userId, deviceId, socket }
      // Registered before the log-in is reported: the envelopes it causes find the socket.
      sessions.add(session)?.socket.close(closeCodes.replaced, 'replaced by a newer connection')
      reporter
        .report({
          userId,
          deviceId,
          at: Date.now(),
          event: { kind: 'LoggedIn', lastPts, deviceClass, gateway: gatewayId },
        })
        .catch(() => {
          // Unknown to the sync topology, the device would wait for pushes that never come.
          if (sessions.remove(session))
            socket.close(closeCodes.internalError, 'the log-in could not be recorded')
        })
      rooms.login(session, token).catch((err) => {
        // Not following its large groups, the device would miss their messages: it reconnects.
        log.warn('could not look up a device’s large groups', { userId, error: String(err) })
        if (sessions.isCurrent(session))
          socket.close(closeCodes.internalError, 'the large groups could not be looked up')
      })

      socket.on('message', (data, isBinary) => {
        if (!sessions.isCurrent(session)) return
        let frame: ReturnType<typeof parseClientFrame>
        try {
          if (isBinary) throw new ImflowError('IMF_ERR_BAD_REQUEST', 'frames are JSON text')
          frame = parseClientFrame(text(data))
        } catch (err) {
          log.debug('bad frame from a device', { userId, deviceId, error: String(err) })
          socket.close(closeCodes.badFrame, (err as Error).message.slice(0, 120))
          return
        }
        if (frame?.type === 'ack') {
          report({ userId, deviceId, at: Date.now(), event: { kind: 'Acked', pts: frame.pts } })
        }
      })
      socket.on('close', () => {
        // A replaced connection's close is not the device's: it is online on the newer one.
        if (!sessions.remove(session)) return
        rooms.logout(userId)
        report({
          userId,
          deviceId,
          at: Date.now(),
          event: { kind: 'LoggedOut', gateway: gatewayId },
        })
      })
    },
  )
}
