// The names of the topologies' state stores, shared by each topology and the queries that read
// its committed state (a store's name is also its changelog topic's: renaming one loses it).
// The key layouts are in key-layout.ts.

/** The receiver's stores (conversation-keyed). */
export const RECEIVER_STORES = {
  /** conversationId -> ConversationMeta (JSON). */
  conversations: 'conversations',
  /** memberKey -> role (1 byte: 1 admin, 0 member). */
  members: 'members',
  /** dedupeKey -> the msgId and createdAt first given. */
  dedupe: 'dedupe',
  /** The msgId generator's reserved high-water time. */
  ids: 'ids',
  /** conversation_message: the read-diffusion log, one copy per normal message. */
  messages: 'conversation-messages',
  /** (conversation, user) -> the newest msgId the user has read. */
  readCursors: 'read-cursors',
  /** Large groups: seqIndexKey (conversation, seq) -> the message's key in the log. */
  seqIndex: 'conversation-seq',
} as const

/** The inbox's stores (user-keyed). */
export const INBOX_STORES = {
  /** message_inbox: uid, 0, then the conversation log's key (cid, 0, createdAt, msgId). */
  inbox: 'message-inbox',
  /** NP markers: uid, 0, cid, 0, msgId. */
  deleted: 'deleted-for-me',
  /** Conversation lists: uid, 0, cid -> ListRow (rows of large groups hold membership only). */
  lists: 'conversation-list',
} as const

/** Sync's stores (user-keyed). */
export const SYNC_STORES = {
  /** uid -> UserSync (head PTS, device cursors). */
  users: 'sync-users',
  /** The sync queue: uid, 0, PTS (8 bytes) -> sourceId + SyncEvent. */
  queue: 'sync-queue',
  /** uid, 0, sourceId -> PTS: a source event's PTS is fixed once, so a replay finds it again. */
  ptsIndex: 'pts-index',
  /** uid -> 1 while any of the user's devices is online (rebuilds timers after a restart). */
  online: 'online-users',
  /** uid -> PendingNotification, while an offline notification is being coalesced. */
  notifications: 'pending-notifications',
} as const
