// Generated from schemas/avro/*.avsc by schemas/generate-types.ts. Do not edit: run `npm run generate`.
// Timestamps (logicalType timestamp-millis) are epoch milliseconds.

/** The message was accepted and will be delivered. */
export interface Accepted {
  /** Which variant this is (the Avro union branch). */
  kind: 'Accepted'
  /** The message's id (the same for every retry of one clientMsgId). */
  msgId: string
  /** The server's creation time of the message. */
  createdAt: number
}

/** The device holds every event up to a PTS; its cursor advances. */
export interface Acked {
  /** Which variant this is (the Avro union branch). */
  kind: 'Acked'
  /** The newest PTS the device holds. */
  pts: number
}

/** A user's action on a conversation's messages, on im.actions (key: conversationId): from producers or the HTTP API. */
export interface Action {
  /** The conversation. */
  conversationId: string
  /** The acting user. */
  userId: string
  /** When the user acted. */
  at: number
  /** What the user did. */
  action: ReadReceipt | ReactionChanged | DeletedForMe
}

/** The conversation's metadata changed (members, mute, unit); clients refresh it. */
export interface ConversationChanged {
  /** Which variant this is (the Avro union branch). */
  kind: 'ConversationChanged'
  /** The conversation. */
  conversationId: string
  /** What changed, for display. */
  description: string
}

/** A single chat or a group was created. */
export interface ConversationCreated {
  /** Which variant this is (the Avro union branch). */
  kind: 'ConversationCreated'
  /** SINGLE or GROUP. */
  conversationType: ConversationType
  /** The initial members. */
  members: string[]
  /** Members who may speak in a muted group and change it. */
  admins: string[]
  /** The home unit (deployment cell); empty means the local unit. */
  unit: string
}

/** A change to a conversation, on the compacted im.conversations topic (key: conversationId). */
export interface ConversationEvent {
  /** The conversation. */
  conversationId: string
  /** Who made the change (an admin or a system), if known. */
  actorId?: null | string
  /** When the change was made. */
  at: number
  /** What changed. */
  change: ConversationCreated | MembersAdded | MembersRemoved | MuteChanged | UnitChanged
}

/** The user read the conversation up to a message: its unread count is cleared on every device. */
export interface ConversationRead {
  /** Which variant this is (the Avro union branch). */
  kind: 'ConversationRead'
  /** The conversation. */
  conversationId: string
  /** The newest message read. */
  upToMsgId: string
}

/** SINGLE: two users. GROUP: up to 100,000 members. */
export type ConversationType = 'SINGLE' | 'GROUP'

/** A record imflow could not decode or process, on im.dead-letter (key: the source topic): the raw bytes and where they came from, so nothing is lost and the partition keeps flowing. */
export interface DeadLetter {
  /** Where the record was read. */
  sourceTopic: string
  /** Its partition. */
  sourcePartition: number
  /** Its offset. */
  sourceOffset: number
  /** The raw key bytes. */
  key?: null | Buffer
  /** The raw value bytes. */
  value?: null | Buffer
  /** The record's headers. */
  headers: DeadLetterHeader[]
  /** The IMF_ERR_* code of the failure. */
  errorCode: string
  /** What went wrong. */
  errorMessage: string
  /** Where it failed: decode, or the processor's name. */
  stage: string
  /** The application id (and topology) that failed. */
  application: string
  /** When it failed. */
  failedAt: number
}

/** One header. */
export interface DeadLetterHeader {
  /** Header name. */
  key: string
  /** Header value. */
  value?: null | Buffer
}

/** The user deleted a message for themself only (NP): stored in their inbox, overriding the conversation's copy for them. */
export interface DeletedForMe {
  /** Which variant this is (the Avro union branch). */
  kind: 'DeletedForMe'
  /** The deleted message. */
  msgId: string
}

/** Sets the push batch size. */
export type DeviceClass = 'MOBILE' | 'DESKTOP' | 'WEB' | 'PAD'

/** A device's session event, reported by the push gateway on im.device-events (key: userId). */
export interface DeviceEvent {
  /** The device's user. */
  userId: string
  /** The device; one cursor is kept per (user, device). */
  deviceId: string
  /** When the gateway saw it. */
  at: number
  /** What happened. */
  event: LoggedIn | Acked | LoggedOut
}

/** Internal: an event handed from conversation-keyed to user-keyed processing, carrying the recipients one partition owns (one record per target partition, not per person). */
export interface FanoutBatch {
  /** The user-keyed partition that owns every recipient. */
  partition: number
  /** The users to deliver to. */
  recipients: string[]
  /** A replay-stable id of the source event (e.g. the msgId), so a user's PTS for it is fixed once. */
  sourceId: string
  /** The event for each recipient. */
  event: SyncEvent
  /** Whether recipients' conversation lists (unread count, last message) are updated now: true for small groups; large groups' lists are computed when read. */
  updateLists: boolean
  /** Set when a user's home geo changed: the row their old geo kept, to merge into this one. */
  movedRow?: null | MovedListRow
  /** Set on state a user's old home kept for them and sent on when their home changed (a private message, a deletion for themself): the home it came from (geo:eu, unit:0). Applied to their inbox, never sequenced (no PTS, no push, no notification: it is history their devices had). */
  movedFrom?: null | string
  /** Set on a user's moved private messages and deletions, packed (see MovedEntries). */
  movedEntries?: null | MovedEntries
}

/** The device connected; it is pushed from lastPts + 1 (or gets a Rebase when too far behind). */
export interface LoggedIn {
  /** Which variant this is (the Avro union branch). */
  kind: 'LoggedIn'
  /** The last PTS the device holds (0 for a new device). */
  lastPts: number
  /** The kind of device. */
  deviceClass: DeviceClass
  /** The gateway instance holding the connection. */
  gateway: string
}

/** The device disconnected. */
export interface LoggedOut {
  /** Which variant this is (the Avro union branch). */
  kind: 'LoggedOut'
  /** The gateway instance that held the connection: a log-out reported by another gateway than the one the device last logged in through is stale (the device moved). */
  gateway: string
}

/** Users joined. */
export interface MembersAdded {
  /** Which variant this is (the Avro union branch). */
  kind: 'MembersAdded'
  /** The new members. */
  userIds: string[]
}

/** The user joined or left the conversation: it enters or leaves their conversation list. */
export interface MembershipChanged {
  /** Which variant this is (the Avro union branch). */
  kind: 'MembershipChanged'
  /** The conversation. */
  conversationId: string
  /** true: joined; false: left or removed. */
  member: boolean
}

/** Users left or were removed. */
export interface MembersRemoved {
  /** Which variant this is (the Avro union branch). */
  kind: 'MembersRemoved'
  /** The removed members. */
  userIds: string[]
}

/** A message is hidden for this user (deleted for them, or recalled). */
export interface MessageDeleted {
  /** Which variant this is (the Avro union branch). */
  kind: 'MessageDeleted'
  /** The conversation. */
  conversationId: string
  /** The message. */
  msgId: string
}

/** What a message carries; clients render each differently. */
export type MessageType = 'TEXT' | 'IMAGE' | 'FILE' | 'CARD' | 'SYSTEM'

/** Many of one user's private messages or deletions for themself in one conversation, moved with them to their new home in one record (bounded in size) instead of one each; set with movedFrom. The batch's event is then a ConversationChanged that says so, which an inbox that does not know this field ignores. */
export interface MovedEntries {
  /** Private messages the user may see, oldest first. */
  privateMessages: StoredMessage[]
  /** Messages the user deleted for themself. */
  deletedMsgIds: string[]
}

/** A user's conversation-list row, moved with them to their new home geo (event: MembershipChanged, member). */
export interface MovedListRow {
  /** Unread messages. */
  unread: number
  /** The newest unread msgIds. */
  unreadIds: string[]
  /** The last message (none: null). */
  lastMsgId?: null | string
  /** Its sender. */
  lastSenderId: string
  /** Its type. */
  lastType: MessageType
  /** Its first 100 characters. */
  lastPreview: string
  /** When it was accepted (ms). */
  lastCreatedAt: number
  /** The last message was deleted for the user: found again when the list is read. */
  lastDeleted: boolean
}

/** The group was muted or unmuted; in a muted group only admins speak. */
export interface MuteChanged {
  /** Which variant this is (the Avro union branch). */
  kind: 'MuteChanged'
  /** The new state. */
  muted: boolean
}

/** A message the user may see. */
export interface NewMessage {
  /** Which variant this is (the Avro union branch). */
  kind: 'NewMessage'
  /** The message. */
  message: StoredMessage
}

/** An offline notification for third-party push services, on im.notify (key: userId): a user with no online device, coalesced over a short window. */
export interface Notification {
  /** The user. */
  userId: string
  /** How many events arrived in the window. */
  count: number
  /** The conversations they came from. */
  conversationIds: string[]
  /** The newest message among them, if any. */
  lastMsgId?: null | string
  /** A short text for the notification. */
  preview: string
  /** When the window closed. */
  createdAt: number
}

/** HIGH is chat and goes first; LOW (operational pushes, likes, bulk notifications) is drained with the capacity HIGH leaves, within a deadline. */
export type Priority = 'HIGH' | 'LOW'

/** A reaction (like, emoji) added or removed; merged per message over a window. */
export interface ReactionChanged {
  /** Which variant this is (the Avro union branch). */
  kind: 'ReactionChanged'
  /** The message reacted to. */
  msgId: string
  /** The reaction. */
  emoji: string
  /** ADD or REMOVE. */
  op: ReactionOp
}

/** Added or removed. */
export type ReactionOp = 'ADD' | 'REMOVE'

/** Merged reactions of a message. */
export interface ReactionSummary {
  /** Which variant this is (the Avro union branch). */
  kind: 'ReactionSummary'
  /** The conversation. */
  conversationId: string
  /** The message. */
  msgId: string
  /** Count per emoji. */
  counts: Record<string, number>
  /** End (ms) of the merge window this summary closes; a client keeps the summary with the latest windowEnd (0: unknown, from before merging). */
  windowEnd: number
}

/** The user has read the conversation up to a message; merged per message over a window. */
export interface ReadReceipt {
  /** Which variant this is (the Avro union branch). */
  kind: 'ReadReceipt'
  /** The newest message read. */
  upToMsgId: string
}

/** Merged read receipts of a message: how many have read it, who newly did. */
export interface ReadStatus {
  /** Which variant this is (the Avro union branch). */
  kind: 'ReadStatus'
  /** The conversation. */
  conversationId: string
  /** The message. */
  msgId: string
  /** Readers so far. */
  readCount: number
  /** Readers added in this window (may be truncated for large groups). */
  newReaders: string[]
  /** End (ms) of the merge window this status closes; a client keeps the status with the latest windowEnd (0: unknown, from before merging). */
  windowEnd: number
}

/** The device is too far behind: fetch the latest messages over the API, then expect pushes from headPts + 1. */
export interface Rebase {
  /** Which variant this is (the Avro union branch). */
  kind: 'Rebase'
  /** The user's newest PTS. */
  headPts: number
}

/** The receiver's answer to one SendMessage, on im.receipts (key: senderId): accepted, rejected with a reason, or throttled. */
export interface Receipt {
  /** As in the SendMessage. */
  conversationId: string
  /** As in the SendMessage; matches the answer to its request. */
  clientMsgId: string
  /** As in the SendMessage. */
  senderId: string
  /** When the receiver decided (server time). */
  decidedAt: number
  /** What happened to the message. */
  outcome: Accepted | Rejected | Throttled
}

/** The message was refused; retrying it unchanged will not help. */
export interface Rejected {
  /** Which variant this is (the Avro union branch). */
  kind: 'Rejected'
  /** Why, as a stable code. */
  reason: RejectReason
  /** A human-readable explanation. */
  detail: string
}

/** NOT_MEMBER: the sender is not in the conversation. MUTED: the group is muted and the sender is no admin. TOO_LARGE: the body passes the size limit. INVALID: a field is malformed. UNKNOWN_CONVERSATION: no such conversation. BAD_TARGETS: PRIVATE targets are missing or not members. UNKNOWN_UNIT: the message has no way to its conversation's home unit: that unit is not in IMFLOW_REMOTE_UNITS of the unit deciding; or the units disagree about the home (a forwarded message came back to the unit that sent it, which takes another unit for the home; or it was passed on from unit to unit 8 times, MAX_UNIT_RELAYS, each pass following one move). A message forwarded to a unit that has moved the conversation on is passed on, not refused. UNKNOWN: a newer reason this reader does not know. */
export type RejectReason =
  | 'UNKNOWN'
  | 'NOT_MEMBER'
  | 'MUTED'
  | 'TOO_LARGE'
  | 'INVALID'
  | 'UNKNOWN_CONVERSATION'
  | 'BAD_TARGETS'
  | 'UNKNOWN_UNIT'

/** An event of a large group for its members' online devices, on im.rooms (key: conversationId): written once per event, whatever the group's size; push gateways deliver it to the member devices they hold. Devices catch up per conversation by seq (docs/sync.md, "Large groups"). */
export interface RoomEvent {
  /** The large group. */
  conversationId: string
  /** For a NewMessage, the message's conversation sequence number (1, 2, ... without gaps per conversation, fixed once); 0 for other events (per-message updates take no place in the sequence). */
  seq: number
  /** When the event was emitted. */
  createdAt: number
  /** What the members' devices should learn: a NewMessage, or a per-message update of the conversation (a ReactionSummary, a ConversationChanged); a MembershipChanged (member false) is for the gateways only, naming in removed who left. */
  event: SyncEvent
  /** Users who are no longer members from this event on: gateways stop pushing the group to their devices before any later event of it (their own PTS stream tells them, at its own pace). */
  removed: string[]
}

/** A request to send a message, posted by a producer to im.ingest (key: conversationId). Mirrors POST /v1/messages. */
export interface SendMessage {
  /** The conversation to send to. */
  conversationId: string
  /** The producer's id for this message; a retry with the same id gets the same msgId. */
  clientMsgId: string
  /** The sending user (over HTTP: the token's subject). */
  senderId: string
  /** What the message carries. */
  type: MessageType
  /** The content: text, or a JSON document for IMAGE, FILE and CARD. */
  body: string
  /** HIGH (chat, the default) or LOW. */
  priority: Priority
  /** NORMAL (the default) or PRIVATE. */
  visibility: Visibility
  /** For PRIVATE: the users, besides the sender, who may see it. */
  targets: string[]
  /** When the client sent it (client clock). */
  sentAt: number
}

/** An event with the user's position. */
export interface SequencedEvent {
  /** The user's position of this event: strictly increasing, never reused. */
  pts: number
  /** The event. */
  event: SyncEvent
}

/** A message as accepted and stored: in conversation_message (NORMAL) or in each target's message_inbox (PRIVATE). */
export interface StoredMessage {
  /** Globally unique, time-ordered 64-bit id, as a decimal string; fixed once by the receiver. */
  msgId: string
  /** The conversation the message belongs to. */
  conversationId: string
  /** The user who sent it. */
  senderId: string
  /** The producer's id for the message; (senderId, clientMsgId) dedupes retries. */
  clientMsgId: string
  /** What the message carries. */
  type: MessageType
  /** The content: text, or a JSON document for IMAGE, FILE and CARD. */
  body: string
  /** Delivery priority. */
  priority: Priority
  /** NORMAL or PRIVATE. */
  visibility: Visibility
  /** For PRIVATE: the users, besides the sender, who may see it. */
  targets: string[]
  /** When the receiver accepted it (server time); history is ordered by it. */
  createdAt: number
  /** When the client says it sent it. */
  sentAt: number
  /** The message's sequence number in its conversation when that is a large group (1, 2, ... without gaps, fixed once, replay-safe); 0 for messages delivered by per-user PTS. */
  seq: number
}

/** Events in PTS order. */
export interface SyncBatch {
  /** Which variant this is (the Avro union branch). */
  kind: 'SyncBatch'
  /** Strictly increasing PTS; gaps allowed. */
  events: SequencedEvent[]
}

/** What the push gateway delivers to a user's online devices, on im.sync (key: userId): a batch of sequenced events, or a Rebase. */
export interface SyncEnvelope {
  /** The user. */
  userId: string
  /** The devices to deliver to. */
  deviceIds: string[]
  /** When the envelope was packed. */
  createdAt: number
  /** The events, or a Rebase. */
  content: SyncBatch | Rebase
}

/** An event bound for one user's devices, before it gets the user's PTS. */
export interface SyncEvent {
  /** Higher priority events go first in a batch. */
  priority: Priority
  /** What the user's devices should learn. */
  payload:
    | NewMessage
    | ReadStatus
    | ReactionSummary
    | MessageDeleted
    | ConversationChanged
    | MembershipChanged
    | ConversationRead
}

/** The message was refused for now by a rate limit or overload; retry after the given time. */
export interface Throttled {
  /** Which variant this is (the Avro union branch). */
  kind: 'Throttled'
  /** Which limit applied. */
  reason: ThrottleReason
  /** How long to wait before retrying, in milliseconds. */
  retryAfterMs: number
}

/** The rate limit (per user, conversation, client type, calling application) or OVERLOAD (smart throttling of the hottest groups). */
export type ThrottleReason =
  | 'UNKNOWN'
  | 'USER_RATE'
  | 'CONVERSATION_RATE'
  | 'CLIENT_TYPE_RATE'
  | 'APPLICATION_RATE'
  | 'OVERLOAD'

/** The conversation moves to another unit; its history moves with it. */
export interface UnitChanged {
  /** Which variant this is (the Avro union branch). */
  kind: 'UnitChanged'
  /** The new home unit. */
  unit: string
}

/** A user's home geo and home unit, on the compacted im.users topic (key: userId); every instance keeps a full replica. */
export interface UserEvent {
  /** The user. */
  userId: string
  /** The user's home geo; messages to the user are synced there. */
  geo: string
  /** When the home was set. */
  at: number
  /** The user's home unit: their list, unread counts, PTS stream and pushes are kept there, for conversations homed in any unit (null: wherever each conversation is homed). */
  unit?: null | string
}

/** NORMAL: every member sees the message (stored once per conversation). PRIVATE: only the sender and the targets see it (stored in each one's inbox). */
export type Visibility = 'NORMAL' | 'PRIVATE'

/** Every top-level schema of the contract by name, with its TypeScript type. */
export interface Events {
  Action: Action
  ConversationEvent: ConversationEvent
  DeadLetter: DeadLetter
  DeviceEvent: DeviceEvent
  FanoutBatch: FanoutBatch
  MessageType: MessageType
  Notification: Notification
  Priority: Priority
  Receipt: Receipt
  RoomEvent: RoomEvent
  SendMessage: SendMessage
  StoredMessage: StoredMessage
  SyncEnvelope: SyncEnvelope
  SyncEvent: SyncEvent
  UserEvent: UserEvent
  Visibility: Visibility
}

export type EventName = keyof Events
