// The push gateway's public surface: mount it on a fastify server (createPushGateway), or run
// it as a server of its own (startPushGateway, with apiRoomDirectory); the wire protocol's frame types.

export {
  type AckFrame,
  type ClientFrame,
  closeCodes,
  deviceClasses,
  type EventsFrame,
  type HeadsFrame,
  type RebaseFrame,
  type RoomFrame,
  type RoomHead,
  type ServerFrame,
} from '../protocol/frames.js'
export {
  createPushGateway,
  type GatewayStats,
  type PushGateway,
  type PushGatewayOptions,
} from './gateway.js'
export { apiRoomDirectory, type RoomDirectory } from './room-delivery.js'
export {
  type RunningPushGateway,
  type StandaloneGatewayOptions,
  startPushGateway,
} from './standalone.js'
