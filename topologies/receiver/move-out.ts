// Moving a conversation to another unit, the old home's half: its history goes to the new
// home — every message of its log, as it was stored (msgId, createdAt, seq), packed a few
// hundred to a record, a chunk per transaction, then its private messages' dedupe answers, then
// an end record with the conversation's seq — with its read cursors, and the copy here is
// deleted as it goes. Everything goes through the forwarder to the new unit's own
// topics, keyed by the conversation, so Kafka keeps it in order with the messages forwarded
// after the move (same sink, same partition); the new home sorts them out (move-in.ts).

import type { SendMessage, StoredMessage } from '../../schemas/types.generated.js'
import { jsonSerde, keyAfter, prefixEnd, stringSerde, typedStore } from '../../state/index.js'
import {
  type ConversationMeta,
  conversationPrefix,
  decodeStoredMessage,
  seqIndexKey,
} from '../model/index.js'
import {
  ChunkedWork,
  type InputRecord,
  type OutputRecord,
  type ProcessorContext,
  type ReadWriteStore,
} from '../runtime/index.js'
import {
  IMPORT_COUNT_HEADER,
  IMPORT_CREATED_AT_HEADER,
  IMPORT_HEADER,
  IMPORT_MSG_ID_HEADER,
  IMPORT_SEQ_HEADER,
} from './move-headers.js'
import { parseAnswer } from './private-dedupe.js'
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

/**
 * JSON of stored messages one packed import record carries at most: far below Kafka's 1 MB
 * record, and a few hundred messages per record instead of one (each record costs the old
 * home, the broker and the new home far more than its bytes do).
 */
export const PACK_MAX_CHARS = 256 * 1024

type Pack = StoredMessage[]

/** Items in order, in packs of at most PACK_MAX_CHARS of JSON (a larger one goes alone). */
export function packs<T>(messages: readonly T[]): T[][] {
  const out: T[][] = []
  let current: T[] = []
  let chars = 0
  for (const m of messages) {
    const size = JSON.stringify(m).length + 1
    if (current.length > 0 && chars + size > PACK_MAX_CHARS) {
      out.push(current)
      current = []
      chars = 0
    }
    current.push(m)
    chars += size
  }
  if (current.length > 0) out.push(current)
  return out
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

/** A history still being sent: where to, the seq the new home goes on from, where it is. */
interface Export {
  to: string
  seq: number
  count: number
  /** The last key sent (base64) of the phase's store; the next chunk starts after it. */
  after?: string
  /** What is being sent: the log (absent: older exports), then private messages' answers. */
  phase?: 'log' | 'private'
}

/**
 * Log entries one transaction sends at most: about 2 MB of imports and tombstones, within the
 * runtime's bounds on a transaction (4 MB), so a long history never starves its heartbeats.
 */
export const EXPORT_CHUNK = 5_000
/** How often a task sends the next chunks of the histories it is moving out. */
export const EXPORT_EVERY_MS = 100
/** conversationId -> the export of its history under way (JSON). */
export const EXPORTS_STORE = 'conversation-exports'

/**
 * Moving out, the old home's half: the read cursors and the first chunk of the history go in
 * the transaction that applies the move (so they are ahead of anything forwarded after it);
 * the rest follows a chunk per transaction (`tick`), each entry deleted here as it is sent,
 * then the end with the conversation's seq. Messages forwarded meanwhile interleave with the
 * chunks; the new home stores imports whenever they come and holds the rest until the end.
 */
export class MovesOut {
  /** Conversations with a history still to send. */
  private readonly exports: ChunkedWork<Export>
  private readonly size: number

  constructor(
    context: ProcessorContext,
    private readonly task: ReceiverTask,
  ) {
    this.size = task.options.moveChunk ?? EXPORT_CHUNK
    const store = context.store(EXPORTS_STORE)
    this.exports = new ChunkedWork(typedStore(store, stringSerde, jsonSerde<Export>()), store)
  }

  async start(
    record: InputRecord,
    conversationId: string,
    meta: ConversationMeta,
    to: string,
  ): Promise<void> {
    await this.sendCursors(record, conversationId, to)
    await this.chunk(conversationId, { to, seq: meta.seq ?? 0, count: 0 })
  }

  /** The next chunk of every history being sent, at most EXPORT_CHUNK entries in all. */
  tick(): Promise<void> {
    return this.exports.tick(this.size, (cid, state, budget) => this.chunk(cid, state, budget))
  }

  /**
   * Sends up to `budget` entries after the last one sent — the log's, then the private
   * messages' dedupe answers — and the end once there are no more.
   */
  private async chunk(cid: string, state: Export, budget = this.size): Promise<number> {
    const phase = state.phase ?? 'log'
    const store = phase === 'log' ? this.task.log : this.task.privateDedupe.store
    const entries = await this.take(store, cid, state.after, budget)
    const ingest = unitSink(state.to, 'ingest')
    if (phase === 'log') await this.sendMessages(cid, ingest, entries)
    else await this.sendAnswers(cid, ingest, entries)
    for (const [key] of entries) store.delete(key)
    const count = state.count + (phase === 'log' ? entries.length : 0)
    const last = entries.at(-1)?.[0]
    if (entries.length === budget && last) {
      await this.exports.put(cid, { ...state, count, after: last.toString('base64') })
      return entries.length
    }
    if (phase === 'log') {
      // The log is done; the budget left goes to the private answers.
      const next: Export = { to: state.to, seq: state.seq, count, phase: 'private' }
      return entries.length + (await this.chunk(cid, next, budget - entries.length))
    }
    await this.task.forward.send(ingest, {
      key: cid,
      value: this.task.options.codecs.sendMessage.encode(importEnd(cid)),
      headers: this.headers({
        [IMPORT_HEADER]: 'end',
        [IMPORT_SEQ_HEADER]: String(state.seq),
        [IMPORT_COUNT_HEADER]: String(count),
      }),
    })
    await this.exports.delete(cid)
    return entries.length
  }

  /** Up to `budget` of the conversation's entries in a store, after the key last sent. */
  private async take(
    store: ReadWriteStore,
    cid: string,
    after: string | undefined,
    budget: number,
  ) {
    const prefix = conversationPrefix(cid)
    const from = after ? keyAfter(Buffer.from(after, 'base64')) : prefix
    const entries: [Buffer, Buffer][] = []
    if (budget <= 0) return entries
    for await (const entry of store.range({ gte: from, lt: prefixEnd(prefix) })) {
      entries.push(entry)
      if (entries.length === budget) break
    }
    return entries
  }

  /** Log entries, packed; the seq index goes with them. */
  private async sendMessages(cid: string, ingest: string, entries: [Buffer, Buffer][]) {
    const messages = entries.map(([, value]) => decodeStoredMessage(value))
    for (const pack of packs(messages))
      await this.task.forward.send(ingest, this.packRecord(cid, pack))
    for (const m of messages) if (m.seq > 0) this.task.seqIndex.delete(seqIndexKey(cid, m.seq))
  }

  /** Private messages' dedupe answers, packed: a retry at the new home gets the first msgId. */
  private async sendAnswers(cid: string, ingest: string, entries: [Buffer, Buffer][]) {
    const { sendMessage } = this.task.options.codecs
    for (const pack of packs(entries.map(([, value]) => parseAnswer(value))))
      await this.task.forward.send(ingest, {
        key: cid,
        value: sendMessage.encode({ ...importEnd(cid), body: JSON.stringify(pack) }),
        headers: this.headers({ [IMPORT_HEADER]: 'answers' }),
      })
  }

  /** One record of the history: a message alone (its fields in headers), or several packed. */
  private packRecord(cid: string, pack: Pack): OutputRecord {
    const { sendMessage } = this.task.options.codecs
    if (pack.length === 1) {
      const m = pack[0] as StoredMessage
      return {
        key: cid,
        value: sendMessage.encode(asSent(m)),
        headers: this.headers({
          [IMPORT_HEADER]: 'message',
          [IMPORT_MSG_ID_HEADER]: m.msgId,
          [IMPORT_CREATED_AT_HEADER]: String(m.createdAt),
          [IMPORT_SEQ_HEADER]: String(m.seq),
        }),
      }
    }
    return {
      key: cid,
      value: sendMessage.encode({ ...importEnd(cid), body: JSON.stringify(pack) }),
      headers: this.headers({ [IMPORT_HEADER]: 'messages' }),
    }
  }

  /**
   * Read cursors only move forward, so their order against anything else does not matter.
   * Then `begin`: whatever this unit forwards to the new home's im.actions after the move (an
   * action sent back to the unit that forwarded it, route-by-unit.ts) comes behind it, so the
   * new home holds it until the move is complete, however late it reads its other topics.
   */
  private async sendCursors(record: InputRecord, conversationId: string, to: string) {
    const prefix = conversationPrefix(conversationId)
    const keys: Buffer[] = []
    const cursor = (userId: string, upToMsgId: string, kind: 'read' | 'begin') =>
      this.task.forward.send(unitSink(to, 'actions'), {
        key: conversationId,
        value: this.task.options.codecs.action.encode({
          conversationId,
          userId,
          at: record.timestamp,
          action: { kind: 'ReadReceipt', upToMsgId },
        }),
        headers: this.headers({ [IMPORT_HEADER]: kind }),
      })
    for await (const [key, upToMsgId] of this.task.readCursors.prefix(prefix)) {
      keys.push(key)
      await cursor(key.subarray(prefix.length).toString(), upToMsgId, 'read')
    }
    for (const key of keys) this.task.readCursors.delete(key)
    await cursor('', '', 'begin')
  }

  private headers(extra: Record<string, string>): Record<string, Buffer | string> {
    return { ...forwardedHeaders({}, this.task.options.unit), ...extra }
  }
}
