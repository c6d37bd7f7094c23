export {
  type Admission,
  type AdmissionDecision,
  type AdmissionGate,
  type AdmissionRequest,
  admitAll,
} from './admission.js'
export { ConversationState } from './conversation-state.js'
export { MAX_RECIPIENTS_PER_BATCH, type PartitionShare, planFanOut } from './fan-out.js'
export {
  alwaysUp,
  type Forwarder,
  forwarder,
  PARKED_STORE,
  type RemoteTargets,
  UNPARK_EVERY_MS,
} from './forward-or-park.js'
export { type HandOffTarget, handOff } from './hand-off.js'
export { geoSplit, type UserHomes, unitTopics, userHomes } from './home-wiring.js'
export { inboundHeaders, inboundTopology, VIA_INBOUND_HEADER } from './inbound.js'
export { inboundModule, receiverModule } from './module.js'
export { ReceiverQueries } from './queries.js'
export { receiverTopology } from './receiver.js'
export { type GeoSplit, REPLY_HEADERS, type ReceiverOptions } from './receiver-options.js'
export { RoomHomes } from './room-homes.js'
export { type GeoTopics, HOME_GEO_HEADER, ORIGIN_GEO_HEADER } from './route-by-geo.js'
export {
  HOME_UNIT_HEADER,
  homeOf,
  MAX_UNIT_RELAYS,
  normalizeUnit,
  ORIGIN_UNIT_HEADER,
  UNIT_RELAY_HEADER,
  type UnitTopics,
} from './route-by-unit.js'
export {
  type HomePlaces,
  homeName,
  inboundSink,
  roomsSink,
  splitByHome,
  type UserHome,
  userHome,
} from './user-home.js'
export {
  checkSender,
  checkShape,
  defaultLimits,
  type ValidationLimits,
} from './validate-message.js'
