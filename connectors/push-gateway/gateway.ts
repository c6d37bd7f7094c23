// The push gateway: holds devices' WebSocket connections, delivers the envelopes of im.sync and
// the large groups' events of im.rooms to the ones it holds, and reports log-ins, acks and
// log-outs on im.device-events. Built here
// without a server of its own: `routes` mounts on any fastify instance (the API's, under
// `imflow start`, or the standalone server of standalone.ts).

import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { FastifyPluginAsync } from 'fastify'
import { type Kafka, Partitioners, type Producer } from 'kafkajs'
import type { WebSocket } from 'ws'
import type { ProbeResult } from '../../ops/health.js'
import type { Logger } from '../../ops/log.js'
import type { EventCodec } from '../../schemas/codec.js'
import type { DeviceEvent, RoomEvent, SyncEnvelope } from '../../schemas/types.generated.js'
import { closeCodes, serverFrame } from '../protocol/frames.js'
import { DeviceReporter } from './device-reporter.js'
import { feedTopic, startGatewayFeed } from './gateway-feed.js'
import { watchMovedAway } from './moved-away.js'
import { RoomDelivery, type RoomDirectory } from './room-delivery.js'
import { DeviceSessions } from './sessions.js'
import { wsRoute } from './ws-route.js'

export interface PushGatewayOptions {
  kafka: Kafka
  /** The full topic names (with the configured prefix). */
  topics: { sync: string; rooms: string; deviceEvents: string }
  codecs: {
    sync: EventCodec<SyncEnvelope>
    rooms: EventCodec<RoomEvent>
    deviceEvents: EventCodec<DeviceEvent>
  }
  /** Each user's large groups and their newest seq (in process: the queries; apart: the API). */
  rooms: RoomDirectory
  jwtSecret: string
  /**
   * A user whose stream is kept elsewhere (homed in another unit): why their device is refused
   * here and where to connect; undefined: served here (the default for everyone).
   */
  elsewhere?: (userId: string) => string | undefined
  /** The application id: the consumer group is `<appId>-gateway-<gatewayId>`. */
  appId: string
  /** Unique per running gateway; reported in LoggedIn. Default: host name and a random suffix. */
  gatewayId?: string
  log: Logger
  /** How long to wait for the im.sync consumer to join and position (default 60 s). */
  positionTimeoutMs?: number
}

export interface GatewayStats {
  connections: number
  envelopes: number
  /** Large groups' events read from im.rooms. */
  roomEvents: number
  /** Frames written to sockets (one envelope or room event may go to several devices). */
  delivered: number
}

export interface PushGateway {
  readonly gatewayId: string
  /** Serves GET /v1/ws; register on a fastify instance before it listens. */
  readonly routes: FastifyPluginAsync
  /** For /readyz: the im.sync consumer runs. */
  probe(): Promise<ProbeResult>
  stats(): GatewayStats
  /** Logs every device out, writes what is pending, and disconnects from Kafka. */
  stop(): Promise<void>
}

/** Resolves once the gateway's consumer is positioned on im.sync: devices may connect. */
export async function createPushGateway(options: PushGatewayOptions): Promise<PushGateway> {
  const log = options.log.child('push-gateway')
  const gatewayId = options.gatewayId ?? `${hostname()}-${randomBytes(4).toString('hex')}`
  const sessions = new DeviceSessions<WebSocket>()
  const stats = { envelopes: 0, roomEvents: 0, delivered: 0 }
  const rooms = new RoomDelivery(sessions, options.rooms, log)
  let accepting = true

  const producer: Producer = options.kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    // Kafka's murmur2: the user-keyed topologies are co-partitioned by it.
    createPartitioner: Partitioners.DefaultPartitioner,
  })
  await producer.connect()
  const reporter = new DeviceReporter(
    async (records) => {
      await producer.send({ topic: options.topics.deviceEvents, acks: -1, messages: records })
    },
    options.codecs.deviceEvents,
    log,
  )

  const deliver = (envelope: SyncEnvelope) => {
    stats.envelopes++
    const targets = sessions.find(envelope.userId, envelope.deviceIds)
    if (targets.length === 0) return
    if (envelope.content.kind === 'SyncBatch') {
      rooms.onUserEvents(envelope.userId, envelope.content.events)
    } else rooms.refresh(envelope.userId)
    const frame = serverFrame(envelope.content)
    for (const { socket } of targets) {
      if (socket.readyState !== socket.OPEN) continue
      socket.send(frame)
      stats.delivered++
    }
  }

  let feed: Awaited<ReturnType<typeof startGatewayFeed>>
  try {
    feed = await startGatewayFeed({
      kafka: options.kafka,
      topics: [
        feedTopic(options.topics.sync, options.codecs.sync, deliver),
        feedTopic(options.topics.rooms, options.codecs.rooms, (event) => {
          stats.roomEvents++
          stats.delivered += rooms.deliver(event)
        }),
      ],
      groupId: `${options.appId}-gateway-${gatewayId}`,
      log,
      ...(options.positionTimeoutMs ? { positionTimeoutMs: options.positionTimeoutMs } : {}),
    })
  } catch (err) {
    await producer.disconnect()
    throw err
  }
  log.info('push gateway ready', { gatewayId })

  const routeOptions = {
    jwtSecret: options.jwtSecret,
    gatewayId,
    sessions,
    reporter,
    rooms,
    accepting: () => accepting,
    ...(options.elsewhere ? { elsewhere: options.elsewhere } : {}),
    log,
  }
  // Devices of users whose home moved elsewhere while connected are sent there.
  const stopSweep = options.elsewhere ? watchMovedAway(sessions, options.elsewhere, log) : () => {}
  let stopped: Promise<void> | undefined
  return {
    gatewayId,
    routes: async (app) => {
      await app.register(wsRoute, routeOptions)
    },
    probe: async () =>
      feed.healthy()
        ? { ok: true }
        : { ok: false, detail: 'the consumer of im.sync and im.rooms stopped' },
    stats: () => ({ connections: sessions.size, ...stats }),
    stop() {
      stopped ??= (async () => {
        accepting = false
        stopSweep()
        const now = Date.now()
        for (const session of sessions.all()) {
          sessions.remove(session)
          const { userId, deviceId } = session
          void reporter
            .report({ userId, deviceId, at: now, event: { kind: 'LoggedOut', gateway: gatewayId } })
            .catch(() => {})
          session.socket.close(closeCodes.goingAway, 'the gateway is stopping')
        }
        await feed.stop()
        await reporter.close()
        await producer.disconnect()
      })()
      return stopped
    },
  }
}
