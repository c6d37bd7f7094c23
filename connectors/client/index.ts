// The client library's public surface: ImflowClient and the shapes it holds; the pure state
// (ClientState, MessageStore) for apps that bring their own transport.

export {
  type ClientErrorCode,
  ImflowClientError,
  isImflowClientError,
} from '../protocol/client-errors.js'
export { type ApplyResult, ClientState } from './client-state.js'
export { fetchHttp, type ImflowHttp, type TokenSource } from './http-api.js'
export { type ClientEvents, ImflowClient, type ImflowClientOptions } from './imflow-client.js'
export { compareMessages, MessageStore } from './message-store.js'
export type {
  ClientConversation,
  ClientMessage,
  ConversationListEntry,
  HistoryMessage,
  MessageSummary,
  OutgoingMessage,
} from './types.js'
