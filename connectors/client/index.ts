// The client library's public surface: ImflowClient and the shapes it holds; the pure state
// (ClientState, MessageStore) for apps that bring their own transport.

export {
  type ClientErrorCode,
  ImflowClientError,
  isImflowClientError,
} from '../protocol/client-errors.js'
export type { ClientEvents } from './client-events.js'
export type { ImflowClientOptions } from './client-options.js'
export { type ApplyResult, ClientState } from './client-state.js'
export { fetchHttp, type ImflowHttp, type TokenSource } from './http-api.js'
export { ImflowClient } from './imflow-client.js'
export { compareMessages, MessageStore } from './message-store.js'
export type {
  ClientConversation,
  ClientMessage,
  ConversationListEntry,
  HistoryMessage,
  MessageSummary,
  OutgoingMessage,
} from './types.js'
