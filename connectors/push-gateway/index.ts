// The push gateway's public surface: mount it on a fastify server (createPushGateway), or run
// it as a server of its own (startPushGateway); the wire protocol's frame types.

export {
  createPushGateway,
  type GatewayStats,
  type PushGateway,
  type PushGatewayOptions,
} from './gateway.js'
export {
  type AckFrame,
  type ClientFrame,
  closeCodes,
  deviceClasses,
  type EventsFrame,
  type RebaseFrame,
  type ServerFrame,
} from './protocol.js'
export {
  type RunningPushGateway,
  type StandaloneGatewayOptions,
  startPushGateway,
} from './standalone.js'
