// A moving user's inbox state leaves in chunks, one a transaction, as a conversation's history
// does when it moves (receiver/move-out.ts): the first chunk in the transaction that applies
// the move, the next ones every USER_EXPORT_EVERY_MS, each entry deleted here as it is sent,
// in order — list rows, then private messages, then deletions for themself — about
// USER_EXPORT_CHARS of JSON a transaction. So a user with hundreds of thousands of private
// messages moves within the runtime's bounds on a transaction, and after a crash the next
// chunk starts where the last commit left off (the cursor is in a store with a changelog).

import type { EventCodec } from '../../schemas/codec.js'
import type { FanoutBatch } from '../../schemas/types.generated.js'
import { declareStore, jsonSerde, keyAfter, prefixEnd, stringSerde } from '../../state/index.js'
import { type ListRow, listKey, userPrefix } from '../model/index.js'
import type { UserHome } from '../receiver/index.js'
import { ChunkedWork, openStore, type ProcessorContext } from '../runtime/index.js'
import type { InboxStores } from './apply-batch.js'
import { movedRowBatch } from './geo-move.js'
import { type EntryKind, movedEntries } from './moved-entries.js'

/** A user's state still on its way to their new home. */
export interface UserExport {
  home: UserHome
  /** Where they come from (this geo, or this unit): the entries' movedFrom. */
  from: string
  /** The offset of the im.users record that moved them: part of each moved row's sourceId. */
  moveOffset: string
  phase: 'rows' | EntryKind
  /** The last key sent of the phase's store (base64); the next chunk starts after it. */
  after?: string
}

/** userId -> the export of their state under way. */
export const userExports = declareStore('user-exports', stringSerde, jsonSerde<UserExport>())

/** JSON one transaction sends at most (about): 8 packs, within the runtime's 4 MB bound. */
export const USER_EXPORT_CHARS = 2 * 1024 * 1024
export const USER_EXPORT_EVERY_MS = 100

const NEXT_PHASE = { rows: 'private', private: 'deleted', deleted: undefined } as const

/** Sends a record to a home's inbound (the forwarder: parked while that topic is missing). */
export type SendHome = (home: UserHome, record: { key: string; value: Buffer }) => Promise<void>

export class UserExports {
  /** userId -> the export of their state under way. */
  private readonly exports: ChunkedWork<UserExport>

  constructor(
    context: ProcessorContext,
    private readonly stores: InboxStores,
    private readonly codec: EventCodec<FanoutBatch>,
    private readonly send: SendHome,
    private readonly budget = USER_EXPORT_CHARS,
  ) {
    this.exports = new ChunkedWork(openStore(context, userExports), context.store(userExports.name))
    context.schedule(USER_EXPORT_EVERY_MS, 'wall-clock', () => this.tick())
  }

  /**
   * Starts sending the user's state to `home` (again from the first phase when a move was under
   * way: what it sent is gone from here), its first chunk now. Answers whether there was any.
   */
  async start(userId: string, home: UserHome, from: string, moveOffset: string): Promise<boolean> {
    const sent = await this.chunk(userId, { home, from, moveOffset, phase: 'rows' }, this.budget)
    return sent > 0
  }

  /** The user is home here again: what has not left stays. */
  async stop(userId: string): Promise<void> {
    await this.exports.delete(userId)
  }

  /** The next chunk of each export under way, USER_EXPORT_CHARS in all. */
  tick(): Promise<void> {
    return this.exports.tick(this.budget, (userId, state, budget) =>
      this.chunk(userId, state, budget),
    )
  }

  /**
   * A hand-off for a user whose rows are still leaving is sent after them: the row of its
   * conversation goes first, so the new home merges the row and then applies what followed it,
   * as it would had every row left in the move's transaction.
   */
  async rowFirst(userId: string, conversationId: string): Promise<void> {
    if (!(await this.exports.has(userId))) return
    const state = await this.exports.get(userId)
    if (state?.phase !== 'rows') return
    const key = listKey(userId, conversationId)
    const row = await this.stores.lists.get(key)
    if (row) await this.sendRow(userId, conversationId, row, state)
  }

  /** Sends up to `budget` chars of the user's state, phase after phase; answers what it sent. */
  private async chunk(userId: string, state: UserExport, budget: number): Promise<number> {
    const after = state.after === undefined ? undefined : Buffer.from(state.after, 'base64')
    const { chars, last, done } =
      state.phase === 'rows'
        ? await this.rows(userId, state, after, budget)
        : await this.entries(userId, state, state.phase, after, budget)
    if (!done) {
      await this.exports.put(userId, { ...state, after: last?.toString('base64') ?? state.after })
      return chars
    }
    const phase = NEXT_PHASE[state.phase]
    if (phase === undefined) {
      await this.exports.delete(userId)
      return chars
    }
    const { home, from, moveOffset } = state
    const next: UserExport = { home, from, moveOffset, phase }
    return chars + (await this.chunk(userId, next, Math.max(0, budget - chars)))
  }

  private async rows(userId: string, state: UserExport, after: Buffer | undefined, budget: number) {
    const prefix = userPrefix(userId)
    const start = after ? keyAfter(after) : prefix
    let chars = 0
    let last: Buffer | undefined
    for await (const [key, row] of this.stores.lists.range(start, prefixEnd(prefix))) {
      if (chars >= budget) return { chars, last, done: false }
      const conversationId = key.subarray(prefix.length).toString()
      chars += await this.sendRow(userId, conversationId, row, state)
      last = key
    }
    return { chars, last, done: true }
  }

  private async sendRow(
    userId: string,
    conversationId: string,
    row: ListRow,
    state: UserExport,
  ): Promise<number> {
    const sourceId = `moved:${userId}:${conversationId}:${state.moveOffset}`
    const batch = movedRowBatch(userId, conversationId, row, sourceId)
    await this.send(state.home, { key: conversationId, value: this.codec.encode(batch) })
    this.stores.lists.delete(listKey(userId, conversationId))
    return JSON.stringify(batch.movedRow).length + 1
  }

  private async entries(
    userId: string,
    state: UserExport,
    kind: EntryKind,
    after: Buffer | undefined,
    budget: number,
  ) {
    const chunk = await movedEntries(userId, kind, this.stores, state.from, after, budget)
    for (const { key, batch, remove } of chunk.packs) {
      await this.send(state.home, { key, value: this.codec.encode(batch) })
      remove()
    }
    return chunk
  }
}
