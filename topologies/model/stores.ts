// The topologies' state stores, declared once (name + serdes) for each topology and the
// queries that read its committed state. A store's name is also its changelog topic's:
// renaming one loses it. The key layouts are in key-layout.ts.

import {
  bufferSerde,
  declareStore,
  int64Serde,
  jsonSerde,
  storeNames,
  stringSerde,
} from '../../state/index.js'
import type { ConversationMeta, DedupeEntry } from './conversation.js'
import { listRowSerde } from './list-row-serde.js'
import { storedMessageSerde } from './stored-message.js'

/** The receiver's stores (conversation-keyed). */
export const receiverStores = {
  conversations: declareStore('conversations', stringSerde, jsonSerde<ConversationMeta>()),
  /** memberKey -> role (1 byte: 1 admin, 0 member). */
  members: declareStore('members', bufferSerde, bufferSerde),
  /** dedupeKey -> the first answer. */
  dedupe: declareStore('dedupe', stringSerde, jsonSerde<DedupeEntry>()),
  /** The msgId generator's reserved high-water time, and its position after the last id. */
  ids: declareStore('ids', stringSerde, int64Serde),
  /** conversation_message: the read-diffusion log, one copy per normal message (messageKey). */
  messages: declareStore('conversation-messages', bufferSerde, storedMessageSerde),
  /** memberKey -> the newest msgId the user has read. */
  readCursors: declareStore('read-cursors', bufferSerde, stringSerde),
  /** Large groups: seqIndexKey (conversation, seq) -> the message's key in the log. */
  seqIndex: declareStore('conversation-seq', bufferSerde, bufferSerde),
} as const

/** The inbox's stores (user-keyed). */
export const inboxStores = {
  /** message_inbox: private messages at inboxKey (uid, 0, then the conversation log's key). */
  inbox: declareStore('message-inbox', bufferSerde, storedMessageSerde),
  /** NP markers at deletedKey (uid, 0, cid, 0, msgId). */
  deleted: declareStore('deleted-for-me', bufferSerde, bufferSerde),
  /** Conversation lists at listKey (uid, 0, cid); rows of large groups hold membership only. */
  lists: declareStore('conversation-list', bufferSerde, listRowSerde),
} as const

export const RECEIVER_STORES = storeNames(receiverStores)
export const INBOX_STORES = storeNames(inboxStores)

/** Sync's stores (user-keyed); their value types are sync's own. */
export const SYNC_STORES = {
  /** uid -> UserSync (head PTS, device cursors). */
  users: 'sync-users',
  /** The sync queue: syncQueueKey (uid, 0, PTS) -> sourceId + SyncEvent. */
  queue: 'sync-queue',
  /** ptsIndexKey (uid, 0, sourceId) -> PTS: a source event's PTS is fixed once. */
  ptsIndex: 'pts-index',
  /** uid -> 1 while any of the user's devices is online (rebuilds timers after a restart). */
  online: 'online-users',
  /** uid -> PendingNotification, while an offline notification is being coalesced. */
  notifications: 'pending-notifications',
} as const
