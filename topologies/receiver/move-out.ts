// Moving a conversation to another unit, the old home's half: in the transaction that applies
// the move, its history goes to the new home — every message of its log, as it was stored
// (msgId, createdAt, seq), then an end record with the conversation's seq — followed by its
// read cursors, and the copy here is deleted. Everything goes through the forwarder to the new
// unit's own topics, keyed by the conversation, so the messages forwarded after the move (same
// sink, same partition, later transactions) land behind the history and its end (docs/send-path.md).

import type { SendMessage, StoredMessage } from '../../schemas/types.generated.js'
import { type ConversationMeta, conversationPrefix, decodeStoredMessage } from '../model/index.js'
import type { InputRecord } from '../runtime/index.js'
import {
  IMPORT_COUNT_HEADER,
  IMPORT_CREATED_AT_HEADER,
  IMPORT_HEADER,
  IMPORT_MSG_ID_HEADER,
  IMPORT_SEQ_HEADER,
} from './move-headers.js'
import type { ReceiverTask } from './receiver-task.js'
import { forwardedHeaders, unitSink } from './route-by-unit.js'

/** A stored message as it travels on im.ingest: the message as sent, its fixed fields in headers. */
export function asSent(m: StoredMessage): SendMessage {
  const { conversationId, clientMsgId, senderId, type, body, priority, visibility, targets } = m
  return {
    conversationId,
    clientMsgId,
    senderId,
    type,
    body,
    priority,
    visibility,
    targets,
    sentAt: m.sentAt,
  }
}

/** What closes an import: no message of its own, the conversation's seq in its headers. */
export function importEnd(conversationId: string): SendMessage {
  return {
    conversationId,
    clientMsgId: '',
    senderId: '',
    type: 'TEXT',
    body: '',
    priority: 'HIGH',
    visibility: 'NORMAL',
    targets: [],
    sentAt: 0,
  }
}

/**
 * Sends the conversation's history, its end and its read cursors to unit `to`, and deletes them
 * here: from now on this unit only routes the conversation. A long history is one transaction
 * (Kafka holds it; the bench measures it): no message can slip between the copy and the switch.
 */
export async function moveOut(
  task: ReceiverTask,
  record: InputRecord,
  conversationId: string,
  meta: ConversationMeta,
  to: string,
): Promise<number> {
  const { codecs, unit } = task.options
  const prefix = conversationPrefix(conversationId)
  const headers = (extra: Record<string, string>) => ({
    ...forwardedHeaders({}, unit),
    ...extra,
  })
  const ingest = unitSink(to, 'ingest')
  const logKeys: Buffer[] = []
  for await (const [key, value] of task.log.prefix(prefix)) {
    const m = decodeStoredMessage(value)
    logKeys.push(key)
    await task.forward.send(ingest, {
      key: conversationId,
      value: codecs.sendMessage.encode(asSent(m)),
      headers: headers({
        [IMPORT_HEADER]: 'message',
        [IMPORT_MSG_ID_HEADER]: m.msgId,
        [IMPORT_CREATED_AT_HEADER]: String(m.createdAt),
        [IMPORT_SEQ_HEADER]: String(m.seq),
      }),
    })
  }
  await task.forward.send(ingest, {
    key: conversationId,
    value: codecs.sendMessage.encode(importEnd(conversationId)),
    headers: headers({
      [IMPORT_HEADER]: 'end',
      [IMPORT_SEQ_HEADER]: String(meta.seq ?? 0),
      [IMPORT_COUNT_HEADER]: String(logKeys.length),
    }),
  })
  // Read cursors only move forward, so their order against anything else does not matter.
  const cursorKeys: Buffer[] = []
  for await (const [key, upToMsgId] of task.readCursors.prefix(prefix)) {
    cursorKeys.push(key)
    const userId = key.subarray(prefix.length).toString()
    await task.forward.send(unitSink(to, 'actions'), {
      key: conversationId,
      value: codecs.action.encode({
        conversationId,
        userId,
        at: record.timestamp,
        action: { kind: 'ReadReceipt', upToMsgId },
      }),
      headers: headers({ [IMPORT_HEADER]: 'read' }),
    })
  }
  const seqKeys: Buffer[] = []
  for await (const [key] of task.seqIndex.prefix(prefix)) seqKeys.push(key)
  // Deleted after the scans: a scan does not see its own deletions the same way everywhere.
  for (const key of logKeys) task.log.delete(key)
  for (const key of seqKeys) task.seqIndex.delete(key)
  for (const key of cursorKeys) task.readCursors.delete(key)
  return logKeys.length
}
