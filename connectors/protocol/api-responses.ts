// The API's answers that the client library reads, as JSON Schemas: the routes declare them
// (fastify serializes with them) and the types both sides use are derived from them
// (json-schema-to-ts), so the server's answer and the client's idea of it cannot drift.

import type { FromSchema } from 'json-schema-to-ts'

const conversationTypes = ['SINGLE', 'GROUP'] as const
const messageTypes = ['TEXT', 'IMAGE', 'FILE', 'CARD', 'SYSTEM'] as const
const priorities = ['HIGH', 'LOW'] as const
const visibilities = ['NORMAL', 'PRIVATE'] as const

/** The Avro enums these schemas repeat (a test keeps them equal to schemas/avro). */
export const apiEnums = {
  ConversationType: conversationTypes,
  MessageType: messageTypes,
  Priority: priorities,
  Visibility: visibilities,
} as const

export const messageSummarySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['msgId', 'senderId', 'type', 'preview', 'createdAt'],
  properties: {
    msgId: { type: 'string' },
    senderId: { type: 'string' },
    type: { type: 'string', enum: messageTypes },
    preview: { type: 'string' },
    createdAt: { type: 'number' },
  },
} as const

/** GET /v1/conversations (each entry) and GET /v1/conversations/:cid. */
export const conversationEntrySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['conversationId', 'large', 'unread', 'last'],
  properties: {
    conversationId: { type: 'string' },
    /** Absent for a conversation homed in another geo (`remote`). */
    type: { type: 'string', enum: conversationTypes },
    memberCount: { type: 'integer' },
    muted: { type: 'boolean' },
    large: { type: 'boolean' },
    /** Large groups: the newest message's seq (what a device catches up to). */
    seq: { type: 'integer' },
    remote: { type: 'boolean' },
    unread: { type: 'integer' },
    last: { anyOf: [messageSummarySchema, { type: 'null' }] },
  },
} as const

export const conversationListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['conversations'],
  properties: { conversations: { type: 'array', items: conversationEntrySchema } },
} as const

/** One message of a history or catch-up page; seq only for large groups' sequenced ones. */
export const historyMessageSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['msgId', 'senderId', 'type', 'body', 'createdAt', 'priority', 'visibility'],
  properties: {
    msgId: { type: 'string' },
    senderId: { type: 'string' },
    type: { type: 'string', enum: messageTypes },
    body: { type: 'string' },
    createdAt: { type: 'number' },
    priority: { type: 'string', enum: priorities },
    visibility: { type: 'string', enum: visibilities },
    seq: { type: 'integer' },
  },
} as const

/** GET /v1/conversations/:cid/messages?before=: newest first; `next` pages older. */
export const historyPageSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['messages', 'next'],
  properties: {
    messages: { type: 'array', items: historyMessageSchema },
    next: { type: ['string', 'null'] },
  },
} as const

/** GET /v1/conversations/:cid/messages?after=: a large group's messages after a seq. */
export const catchUpPageSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['messages', 'headSeq', 'next', 'reload'],
  properties: {
    /** Oldest first. */
    messages: { type: 'array', items: historyMessageSchema },
    headSeq: { type: 'integer' },
    /** The `after` of the next page; null when this one reaches headSeq. */
    next: { type: ['integer', 'null'] },
    /** Too far behind: load the latest page instead, and continue from headSeq. */
    reload: { type: 'boolean' },
  },
} as const

/** POST /v1/messages: the receipt of an accepted message. */
export const acceptedSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['msgId', 'createdAt', 'conversationId', 'clientMsgId'],
  properties: {
    msgId: { type: 'string' },
    createdAt: { type: 'number' },
    conversationId: { type: 'string' },
    clientMsgId: { type: 'string' },
  },
} as const

export type MessageSummary = FromSchema<typeof messageSummarySchema>
export type ConversationListEntry = FromSchema<typeof conversationEntrySchema>
export type ConversationList = FromSchema<typeof conversationListSchema>
export type HistoryMessage = FromSchema<typeof historyMessageSchema>
export type HistoryPageAnswer = FromSchema<typeof historyPageSchema>
export type CatchUpPage = FromSchema<typeof catchUpPageSchema>
export type Accepted = FromSchema<typeof acceptedSchema>
