// The topics of imflow's contract: what producers write, what the push gateway reads, and
// the dead letters. Names get the configured prefix (IMFLOW_TOPIC_PREFIX) in front.

import type { EventName } from './types.generated.js'

export interface TopicSpec {
  /** The name without prefix, as the contract writes it. */
  readonly base: string
  /** Compacted topics keep the latest record per key: tables, not logs. */
  readonly compacted: boolean
  /** What the key is; co-partitioned topics share it (and their partition count). */
  readonly key: string
  /** The Avro schema (schemas/avro/<name>.avsc) of the values; subject `<topic>-value`. */
  readonly valueSchema: EventName
  readonly doc: string
}

export const contractTopics = [
  {
    base: 'im.ingest',
    valueSchema: 'SendMessage',
    compacted: false,
    key: 'conversationId',
    doc: 'Send-message events posted by producers (SendMessage).',
  },
  {
    base: 'im.receipts',
    valueSchema: 'Receipt',
    compacted: false,
    key: 'senderId',
    doc: 'One receipt per ingested message: Accepted, Rejected or Throttled, with a reason code.',
  },
  {
    base: 'im.conversations',
    valueSchema: 'ConversationEvent',
    compacted: true,
    key: 'conversationId',
    doc: 'Conversation events (created, members added/removed, mute, unit); co-partitioned with im.ingest.',
  },
  {
    base: 'im.users',
    valueSchema: 'UserEvent',
    compacted: true,
    key: 'userId',
    doc: "Users' home geo; read by every instance as a global table.",
  },
  {
    base: 'im.actions',
    valueSchema: 'Action',
    compacted: false,
    key: 'conversationId',
    doc: 'Read receipts, reactions and delete-for-me, from producers or the HTTP API.',
  },
  {
    base: 'im.device-events',
    valueSchema: 'DeviceEvent',
    compacted: false,
    key: 'userId',
    doc: 'Device log-in (with its last PTS), ack and log-out, reported by the push gateway.',
  },
  {
    base: 'im.sync',
    valueSchema: 'SyncEnvelope',
    compacted: false,
    key: 'userId',
    doc: "Per-user sequenced sync envelopes (PTS batches or a Rebase) for the user's devices.",
  },
  {
    base: 'im.rooms',
    valueSchema: 'RoomEvent',
    compacted: false,
    key: 'conversationId',
    doc: "Large groups' events (a message once, not once per member), for push gateways to deliver to the member devices they hold.",
  },
  {
    base: 'im.notify',
    valueSchema: 'Notification',
    compacted: false,
    key: 'userId',
    doc: 'Offline notifications for third-party push services, coalesced per user.',
  },
  {
    base: 'im.dead-letter',
    valueSchema: 'DeadLetter',
    compacted: false,
    key: 'source topic',
    doc: 'Records that could not be decoded or processed, with their raw bytes and the error.',
  },
] as const satisfies readonly TopicSpec[]

export type ContractTopic = (typeof contractTopics)[number]['base']

export function topicName(prefix: string, base: ContractTopic): string {
  return `${prefix}${base}`
}
