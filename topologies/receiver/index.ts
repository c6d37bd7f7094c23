export { type ConversationMeta, ConversationState, type Role } from './conversation-state.js'
export { inboundTopology } from './inbound.js'
export { ReceiverQueries } from './queries.js'
export {
  type Admission,
  type AdmissionDecision,
  type AdmissionGate,
  type AdmissionRequest,
  admitAll,
  decodeStoredMessage,
  encodeStoredMessage,
  type GeoSplit,
  messageKey,
  REPLY_HEADERS,
  type ReceiverOptions,
  receiverTopology,
  STORES,
} from './receiver.js'
export { homeOf, ORIGIN_UNIT_HEADER, type UnitTopics } from './route-by-unit.js'
export { splitByGeo } from './split-by-geo.js'
export {
  checkSender,
  checkShape,
  defaultLimits,
  type ValidationLimits,
} from './validate-message.js'
