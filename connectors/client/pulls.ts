// What the client pulls over the API and applies to its state: the latest pages after a Rebase
// (or a move), a large group's gap or latest page, the latest page of a conversation whose row
// came after a move's reload, and the metadata of conversations first met in a push. A few
// pulls run at once; each emits what it added once it is applied.

import type { EventEmitter } from 'node:events'
import type { RoomHead } from '../protocol/frames.js'
import type { ClientEvents } from './client-events.js'
import type { ClientState } from './client-state.js'
import type { ImflowHttp } from './http-api.js'
import type { HistoryMessage } from './types.js'

const PULL_CONCURRENCY = 4

/** `work` for each item, PULL_CONCURRENCY at a time, in the items' order. */
async function pullEach<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items]
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item)
  }
  await Promise.all(Array.from({ length: PULL_CONCURRENCY }, worker))
}

/** The client's events that pulls emit. */
export type PullEvents = Pick<ClientEvents, 'messages' | 'reload' | 'conversation'>

export interface PullsOptions {
  /** Read at each call: the API changes when the user's home moves. */
  http: () => ImflowHttp
  state: ClientState
  /** Where the events go: the client. */
  events: Pick<EventEmitter<PullEvents>, 'emit'>
  /** Reports what failed off the frames' path (a backfill). */
  fail: (err: unknown) => void
  /** Whether close() was called: a backfill stops. */
  closing: () => boolean
  /** Messages per page pulled. */
  pageSize: number
}

/**
 * Conversations asked for off the frames' path, worked through by one loop at a time: those
 * asked for meanwhile go in its next round, each once.
 */
class Backlog {
  private readonly wanted = new Set<string>()
  /** The loop under way, if any. */
  running: Promise<void> | undefined

  constructor(
    private readonly round: (conversationIds: Set<string>) => Promise<void>,
    private readonly closing: () => boolean,
  ) {}

  add(conversationIds: Iterable<string>): void {
    for (const id of conversationIds) this.wanted.add(id)
    this.running ??= (async () => {
      while (this.wanted.size > 0 && !this.closing()) {
        const ids = new Set(this.wanted)
        this.wanted.clear()
        await this.round(ids)
      }
    })().finally(() => {
      this.running = undefined
    })
  }
}

export class Pulls {
  private readonly describing: Backlog
  private readonly latest: Backlog

  constructor(private readonly options: PullsOptions) {
    this.describing = new Backlog((ids) => this.describe(ids), options.closing)
    this.latest = new Backlog((ids) => this.pullLatest(ids), options.closing)
  }

  /** The backfills describeLater and latestLater run, if any (settled() waits for them). */
  get backfill(): Promise<void> | undefined {
    const running = [this.describing.running, this.latest.running].filter((p) => p !== undefined)
    return running.length > 0 ? Promise.all(running).then(() => {}) : undefined
  }

  /** The list and each conversation's latest page, applied as a Rebase to headPts. */
  async rebase(headPts: number, options?: { keepUnlisted: boolean }): Promise<void> {
    const { http, state, events, fail, pageSize } = this.options
    const entries = await http().conversations()
    const pages = new Map<string, HistoryMessage[]>()
    // Conversations homed in another geo too: this API reads their home's log. One whose home
    // does not answer keeps what the device holds of it (its next push or pull brings more).
    await pullEach(entries, async ({ conversationId, remote }) => {
      try {
        pages.set(conversationId, await http().latestMessages(conversationId, pageSize))
      } catch (err) {
        if (!remote) throw err
        fail(err)
      }
    })
    state.rebase(headPts, entries, pages, options)
    for (const conversation of state.conversations()) events.emit('conversation', conversation)
  }

  /** Each large group the heads frame shows ahead of the device: its gap, or its latest page. */
  async catchUp(heads: RoomHead[]): Promise<void> {
    await pullEach(this.options.state.rooms.plan(heads), (next) =>
      next.after === undefined
        ? this.reload(next.conversationId, next.head)
        : this.pullAfter(next.conversationId, next.after),
    )
  }

  /** A large group's messages after a seq, page by page, until its head (or a reload). */
  async pullAfter(conversationId: string, after: number): Promise<void> {
    const { http, state, events, pageSize } = this.options
    for (let from: number | null = after; from !== null; ) {
      const page = await http().messagesAfter(conversationId, from, pageSize)
      if (page.reload) return this.reload(conversationId, page.headSeq)
      const added = state.addPulled(conversationId, page.messages)
      if (added.length > 0) events.emit('messages', added)
      if (page.next === null) state.rooms.advance(conversationId, page.headSeq)
      from = page.next
    }
  }

  private async reload(conversationId: string, headSeq: number): Promise<void> {
    const { http, state, events, pageSize } = this.options
    const page = await http().latestMessages(conversationId, pageSize)
    state.reload(conversationId, page, headSeq)
    events.emit('reload', conversationId, headSeq)
  }

  /** Each conversation's latest page, merged into what is held, off the frames' path. */
  latestLater(conversationIds: Iterable<string>): void {
    this.latest.add(conversationIds)
  }

  private async pullLatest(conversationIds: Set<string>): Promise<void> {
    const { http, state, events, fail, pageSize } = this.options
    await pullEach([...conversationIds], async (cid) => {
      try {
        const added = state.addLatest(cid, await http().latestMessages(cid, pageSize))
        if (added.length > 0) events.emit('messages', added)
      } catch (err) {
        fail(err)
      }
    })
  }

  /** Fetches the list once for all conversations met meanwhile, off the frames' path. */
  describeLater(conversationIds: Iterable<string>): void {
    this.describing.add(conversationIds)
  }

  private async describe(only: Set<string>): Promise<void> {
    const { http, state, events, fail } = this.options
    try {
      state.describe(await http().conversations(), only)
      for (const id of only) {
        const conversation = state.conversation(id)
        if (conversation?.described) events.emit('conversation', conversation)
      }
    } catch (err) {
      fail(err) // the conversation's next push asks again
    }
  }
}
