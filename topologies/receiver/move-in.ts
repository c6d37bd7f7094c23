// Moving a conversation to another unit, the new home's half: it stores the imported history
// as it comes (log, seq index, dedupe, read cursors), and holds every other message, action and
// change of the conversation (the hand-over's own changes aside), in arrival order, until the
// move is complete — the import's end has
// come (im.ingest) and the conversation is known here as homed here (im.conversations; a task
// reads its topics in the order batches arrive, so either may come first). Then it takes the
// conversation's seq from the old home and processes what it held, in order, in that transaction.

import { compareMsgIds } from '../../schemas/msg-id.js'
import type { Action, SendMessage, StoredMessage } from '../../schemas/types.generated.js'
import { jsonSerde, type KeyValueStore, stringSerde, typedStore } from '../../state/index.js'
import {
  dedupeKey,
  encodeStoredMessage,
  memberKey,
  messageKey,
  seqIndexKey,
} from '../model/index.js'
import type { InputRecord, ProcessorContext, ReadWriteStore } from '../runtime/index.js'
import { sendMoveBarrier } from './move-barrier.js'
import {
  HANDOVER_PART_HEADER,
  IMPORT_CREATED_AT_HEADER,
  IMPORT_HEADER,
  IMPORT_MSG_ID_HEADER,
  IMPORT_SEQ_HEADER,
} from './move-headers.js'
import type { PrivateAnswer } from './private-dedupe.js'
import type { ReceiverTask } from './receiver-task.js'
import { originOf } from './route-by-unit.js'

/** conversationId -> a move into this unit under way. */
export const MOVES_STORE = 'conversation-moves'
/** conversationId, 0, 8-byte sequence -> a record held until its conversation's move is complete. */
export const HELD_STORE = 'move-held'
/**
 * How long a move waits for its barrier (move-headers.ts) to come back: an old home that does
 * not pass it on (stopped, or failed over) holds the conversation no longer than this.
 */
export const BARRIER_WAIT_MS = 30_000

interface MoveIn {
  /** The import's end came: the conversation's seq at the old home. */
  endSeq?: number
  /** The conversation is known here as homed here, with its members. */
  handedOver?: boolean
  /** False when no history will come. */
  expectImport: boolean
  /** The old home, which the hand-over named. */
  from?: string
  /** The barrier sent through the old home (wall clock), and whether it came back. */
  barrier?: { sentAt: number; back?: boolean }
}

interface HeldRecord {
  topic: string
  partition: number
  offset: string
  timestamp: number
  value: string
  headers: Record<string, string>
}

export function header(record: InputRecord, name: string): string | undefined {
  const value = record.headers[name]
  const one = Array.isArray(value) ? value.at(-1) : value
  return one === undefined ? undefined : one.toString()
}

const heldPrefix = (cid: string) => Buffer.concat([Buffer.from(cid), Buffer.from([0])])

export class MovesIn {
  private readonly moves: KeyValueStore<string, MoveIn>
  private readonly held: ReadWriteStore
  /** Conversations moving in, and records held per conversation: read once, again after a rollback. */
  private state: { moving: Set<string>; held: Map<string, number>; next: number } | undefined

  private readonly wallClock: () => number

  constructor(
    context: ProcessorContext,
    private readonly task: ReceiverTask,
    /** Processes a held record as if it came now (the receiver's dispatch). */
    private readonly process: (record: InputRecord) => Promise<void>,
  ) {
    this.wallClock = () => context.wallClock()
    const moves = context.store(MOVES_STORE)
    this.moves = typedStore(moves, stringSerde, jsonSerde<MoveIn>())
    this.held = context.store(HELD_STORE)
    // What a rolled-back transaction wrote is gone: read both again.
    const forget = () => {
      this.state = undefined
    }
    moves.onRollback(forget)
    this.held.onRollback(forget)
  }

  private async load() {
    if (this.state) return this.state
    const s = { moving: new Set<string>(), held: new Map<string, number>(), next: 0 }
    for await (const [cid] of this.moves.range()) s.moving.add(cid)
    for await (const [key] of this.held.range()) {
      const cid = key.subarray(0, key.length - 9).toString()
      s.held.set(cid, (s.held.get(cid) ?? 0) + 1)
      s.next = Math.max(s.next, Number(key.readBigUInt64BE(key.length - 8)) + 1)
    }
    this.state = s
    return s
  }

  /**
   * Whether a record of this conversation must wait: a move in is under way, or records wait
   * before it. A move on, applied now, would send on only the part of the history that came,
   * and the rest would arrive here after the conversation left; held, it is applied once the
   * history is all here, which then follows it.
   */
  async holds(conversationId: string): Promise<boolean> {
    const s = await this.load()
    return s.moving.has(conversationId) || (s.held.get(conversationId) ?? 0) > 0
  }

  /** Keeps the record (its value encoded again) behind the others held for the conversation. */
  async hold(record: InputRecord, conversationId: string, value: Buffer): Promise<void> {
    const s = await this.load()
    const headers: Record<string, string> = {}
    for (const name of Object.keys(record.headers)) {
      const one = header(record, name)
      if (one !== undefined) headers[name] = one
    }
    const held: HeldRecord = {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      timestamp: record.timestamp,
      value: value.toString('base64'),
      headers,
    }
    const seq = Buffer.alloc(8)
    seq.writeBigUInt64BE(BigInt(s.next++))
    this.held.put(
      Buffer.concat([heldPrefix(conversationId), seq]),
      Buffer.from(JSON.stringify(held)),
    )
    s.held.set(conversationId, (s.held.get(conversationId) ?? 0) + 1)
  }

  /** An imported message: stored as the old home stored it; its retry gets the same msgId. */
  async importMessage(record: InputRecord, message: SendMessage): Promise<void> {
    const msgId = header(record, IMPORT_MSG_ID_HEADER) ?? ''
    const createdAt = Number(header(record, IMPORT_CREATED_AT_HEADER))
    const seq = Number(header(record, IMPORT_SEQ_HEADER) ?? 0)
    await this.store(message.conversationId, [{ ...message, msgId, createdAt, seq }])
  }

  /** Imported messages packed in one record (move-out.ts `packs`): stored one by one. */
  async importMessages(message: SendMessage): Promise<void> {
    await this.store(message.conversationId, JSON.parse(message.body) as StoredMessage[])
  }

  /** Private messages' dedupe answers (move-out.ts): a retry here gets the first msgId. */
  async importAnswers(message: SendMessage): Promise<void> {
    const { conversationId } = message
    for (const answer of JSON.parse(message.body) as PrivateAnswer[]) {
      this.task.dedupe.put(answer.key, { msgId: answer.msgId, createdAt: answer.createdAt })
      this.task.privateDedupe.record(conversationId, answer)
    }
    await this.importing(conversationId)
  }

  private async store(conversationId: string, messages: readonly StoredMessage[]): Promise<void> {
    for (const m of messages) {
      const key = messageKey(conversationId, m.createdAt, m.msgId)
      this.task.log.put(key, encodeStoredMessage({ ...m, conversationId }))
      if (m.seq > 0) this.task.seqIndex.put(seqIndexKey(conversationId, m.seq), key)
      this.task.dedupe.put(dedupeKey(m.senderId, m.clientMsgId), {
        msgId: m.msgId,
        createdAt: m.createdAt,
      })
    }
    await this.importing(conversationId)
  }

  /** The first chunk is ahead of anything forwarded after the move: from here on, that waits. */
  private async importing(conversationId: string): Promise<void> {
    if (!(await this.load()).moving.has(conversationId)) await this.update(conversationId, (m) => m)
  }

  /**
   * The move's mark on im.actions (move-out.ts `sendCursors`): what follows it there waits for
   * the move, like what follows the first chunk on im.ingest. Read after the move completed
   * (this task read its other topics first): the conversation is homed here and no move is
   * under way, so nothing waits.
   */
  async importBegun(conversationId: string): Promise<void> {
    if ((await this.load()).moving.has(conversationId)) return
    const meta = await this.task.conversations.get(conversationId)
    if (meta && this.task.route.isLocal(meta.unit)) return
    await this.update(conversationId, (m) => m)
  }

  /** The import's end: the old home's seq; the move completes if the hand-over is here too. */
  async importEnded(record: InputRecord, conversationId: string): Promise<void> {
    const endSeq = Number(header(record, IMPORT_SEQ_HEADER) ?? 0)
    await this.update(conversationId, (m) => ({ ...m, endSeq }))
    await this.complete(conversationId)
  }

  /** An imported read cursor: kept if newer (cursors never go back), nobody told again. */
  async importRead(action: Action): Promise<void> {
    if (action.action.kind !== 'ReadReceipt') return
    const key = memberKey(action.conversationId, action.userId)
    const previous = await this.task.readCursors.get(key)
    if (previous && compareMsgIds(previous, action.action.upToMsgId) >= 0) return
    this.task.readCursors.put(key, action.action.upToMsgId)
  }

  /**
   * The conversation is homed here now: through a hand-over from another unit (its last event
   * names where the history comes from) or a move made here (`from`: the old home, or undefined
   * when it was no unit this one knows and no history will come).
   */
  async movedHere(conversationId: string, from: string | undefined): Promise<void> {
    await this.update(conversationId, (m) => ({
      ...m,
      handedOver: true,
      expectImport: from !== undefined,
      ...(from !== undefined && { from }),
    }))
    await this.complete(conversationId)
  }

  /** The barrier came back through the old home: what it passed back before it is here. */
  async barrierBack(conversationId: string): Promise<void> {
    const barrier = (await this.moves.get(conversationId))?.barrier
    if (!barrier || barrier.back) return
    await this.update(conversationId, (m) => ({ ...m, barrier: { ...barrier, back: true } }))
    await this.complete(conversationId)
  }

  /** Moves whose barrier has not come back within BARRIER_WAIT_MS complete without it. */
  async tick(now: number): Promise<void> {
    for (const cid of [...(await this.load()).moving]) {
      const barrier = (await this.moves.get(cid))?.barrier
      if (!barrier || barrier.back || now - barrier.sentAt < BARRIER_WAIT_MS) continue
      this.task.options.metrics?.moveBarrierTimeouts.inc()
      // Whatever the old home still passes back comes after the messages sent here since.
      this.task.logger.warn('a move completes without its barrier back from the old home', {
        conversationId: cid,
        waitedMs: now - barrier.sentAt,
      })
      await this.barrierBack(cid)
    }
  }

  /**
   * Moved here through this unit's own API: the home hands it over when it hears of the move
   * (route-by-unit.ts), and is the one to say where the history comes from. Until then, wait.
   */
  async awaitHandOver(conversationId: string): Promise<void> {
    await this.update(conversationId, (m) => m)
  }

  private async update(cid: string, change: (m: MoveIn) => MoveIn): Promise<void> {
    const s = await this.load()
    this.moves.put(cid, change((await this.moves.get(cid)) ?? { expectImport: true }))
    s.moving.add(cid)
  }

  /** Once the history and the hand-over are both here: the seq goes on, the held records run. */
  private async complete(cid: string): Promise<void> {
    const move = await this.moves.get(cid)
    if (!move?.handedOver || (move.expectImport && move.endSeq === undefined)) return
    const meta = await this.task.conversations.get(cid)
    if (!meta || !this.task.route.isLocal(meta.unit)) return
    if (await this.awaitsBarrier(cid, move)) return
    if ((move.endSeq ?? 0) > (meta.seq ?? 0))
      this.task.conversations.setSeq(cid, meta, move.endSeq ?? 0)
    await this.release(cid)
  }

  /**
   * Changes this unit forwarded to the old home before it had the hand-over may still be on
   * their way back (the old home passes them on here): a barrier sent through the old home
   * comes back behind them, and the move completes then.
   */
  private async awaitsBarrier(cid: string, move: MoveIn): Promise<boolean> {
    const oldHome = move.from === undefined ? undefined : this.task.route.remote(move.from)
    if (oldHome === undefined || move.barrier?.back) return false
    if (!move.barrier) {
      const sentAt = this.wallClock()
      await sendMoveBarrier(this.task, oldHome, cid, sentAt)
      await this.update(cid, (m) => ({ ...m, barrier: { sentAt } }))
    }
    return true
  }

  /**
   * Ends the wait and processes what was held, in order: when the move is complete, or when
   * the conversation leaves this unit before it was (its held messages follow it there).
   */
  async release(cid: string): Promise<void> {
    const s = await this.load()
    if (!s.moving.has(cid) && !s.held.has(cid)) return
    this.moves.delete(cid)
    s.moving.delete(cid)
    const entries: [Buffer, Buffer][] = []
    for await (const entry of this.held.prefix(heldPrefix(cid))) entries.push(entry)
    const records: InputRecord[] = []
    for (const [key, value] of entries) {
      this.held.delete(key)
      records.push(await this.decode(cid, JSON.parse(value.toString()) as HeldRecord))
    }
    s.held.delete(cid)
    // What this unit forwarded to the old home came back (its origin is this unit): it was sent
    // before this unit held anything of the conversation, so before what it holds from its own
    // API (a membership change made here after one still on its way back must not overtake it).
    const local = String(this.task.options.unit)
    const returned = records.filter((r) => originOf(r) === local)
    for (const record of [...returned, ...records.filter((r) => originOf(r) !== local)])
      await this.process(record)
  }

  private async decode(cid: string, held: HeldRecord): Promise<InputRecord> {
    const { codecs } = this.task.options
    const bytes = Buffer.from(held.value, 'base64')
    const { topics } = this.task.options
    const value =
      held.topic === topics.actions
        ? await codecs.action.decode(bytes)
        : held.topic === topics.conversations
          ? await codecs.conversationEvent.decode(bytes)
          : await codecs.sendMessage.decode(bytes)
    return {
      topic: held.topic,
      partition: held.partition,
      offset: held.offset,
      timestamp: held.timestamp,
      key: Buffer.from(cid),
      value,
      headers: held.headers,
    }
  }
}

/** Whether a record is part of an import (its kind), or undefined. */
export const importKind = (record: InputRecord) => header(record, IMPORT_HEADER)

/** Whether a change is part of a hand-over (route-by-unit.ts): the old home's state, applied as it comes. */
export const isHandOverPart = (record: InputRecord) =>
  header(record, HANDOVER_PART_HEADER) !== undefined
