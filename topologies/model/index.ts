// The conversation and message model every topology and the API share: how keys are laid out,
// how a stored message is encoded, what the stores are called, which groups are large. It
// imports no topology, so topologies meet here instead of in each other's internals.

export type { ConversationMeta, DedupeEntry, Role } from './conversation.js'
export type { ListRow, MessageSummary } from './conversation-list.js'
export type { ConversationLog, Positioned } from './conversation-log.js'
export {
  conversationPrefix,
  dedupeKey,
  deletedKey,
  deletedKeyParts,
  inboxKey,
  inboxPrefix,
  listKey,
  memberKey,
  messageKey,
  messagePosition,
  POSITION_TIME_BYTES,
  ptsIndexKey,
  seqIndexKey,
  syncQueueKey,
  userPrefix,
} from './key-layout.js'
export { DEFAULT_LARGE_GROUP_THRESHOLD, isLargeGroup } from './large-group.js'
export { byConversation, byUser } from './owners.js'
export { decodeStoredMessage, encodeStoredMessage, storedMessageSerde } from './stored-message.js'
export {
  INBOX_STORES,
  inboxStores,
  RECEIVER_STORES,
  receiverStores,
  SYNC_STORES,
} from './stores.js'
export * as unreadIds from './unread-ids.js'
