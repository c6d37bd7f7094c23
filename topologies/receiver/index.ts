export { type ConversationMeta, ConversationState, type Role } from './conversation-state.js'
export { ReceiverQueries } from './queries.js'
export {
  type Admission,
  admitAll,
  decodeStoredMessage,
  encodeStoredMessage,
  messageKey,
  REPLY_HEADERS,
  type ReceiverOptions,
  receiverTopology,
  STORES,
} from './receiver.js'
export {
  checkSender,
  checkShape,
  defaultLimits,
  type ValidationLimits,
} from './validate-message.js'
