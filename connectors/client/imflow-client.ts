// ImflowClient: a device's connection to imflow, for Node (tests, `imflow demo`, users' apps).
// It holds a WebSocket to the push gateway, applies what is pushed in PTS order, acks each
// frame once applied, answers a Rebase by pulling the latest pages over the API, backfills
// conversations it first meets in a push, and reconnects with its last PTS (backing off, up
// to a bound) until close(). Large groups' messages come apart from the PTS stream, numbered
// per conversation: it applies them in seq order and pulls any gap it finds. When the user's
// home unit changes (close 4002, naming the new home's API), it follows: it reloads the list
// and latest pages from the new home and connects to its gateway from PTS 0 (a new stream).

import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import WebSocket from 'ws'
import type { DeviceClass, SequencedEvent } from '../../schemas/types.generated.js'
import { ImflowClientError } from '../protocol/client-errors.js'
import {
  closeCodes,
  movedHomeUrl,
  type RoomFrame,
  type RoomHead,
  type ServerFrame,
} from '../protocol/frames.js'
import { ClientState } from './client-state.js'
import { fetchHttp, type ImflowHttp, type TokenSource } from './http-api.js'
import { ReadMerger } from './read-merger.js'
import type { ClientConversation, ClientMessage, HistoryMessage, OutgoingMessage } from './types.js'

export interface ImflowClientOptions {
  /** The API's base URL, e.g. http://127.0.0.1:8080. */
  url: string
  /** The push gateway's base URL (http, https, ws or wss) when it is not the API's. */
  gatewayUrl?: string
  /** The user's JWT, or a function giving a fresh one for each connection and call. */
  token: string | TokenSource
  /** The token's subject; needed only when `token` is a function. */
  userId?: string
  deviceId: string
  deviceClass?: DeviceClass
  /** The newest PTS the device holds (0 for a new device). */
  lastPts?: number
  /** The newest seq it holds of each large group (`seqs()` of its last run). */
  seqs?: Record<string, number>
  /** The API calls; by default over fetch to `url`. */
  http?: ImflowHttp
  /** Messages pulled per conversation after a Rebase (default 50; the API allows 200). */
  pageSize?: number
  /** Reconnection delays double from initialDelayMs up to maxDelayMs (250 ms, 10 s). */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number }
  /** markRead() sends at most one receipt per conversation per this long (default 300 ms). */
  readMergeMs?: number
}

export interface ClientEvents {
  /** A connection is up (the first, or after a reconnect). */
  open: []
  /** A connection ended; `reconnecting` says whether another follows. */
  close: [{ code: number; reason: string; reconnecting: boolean }]
  /** Events newer than the device held, applied in order. */
  events: [SequencedEvent[]]
  /** A Rebase was applied: the latest pages are held, pushes go on from headPts. */
  rebase: [headPts: number]
  /** Large groups' messages newly held (pushed, or pulled to fill a gap), in seq order. */
  messages: [ClientMessage[]]
  /** The device was too far behind in a large group: it holds its latest page now. */
  reload: [conversationId: string, headSeq: number]
  /**
   * The user's home unit changed (close 4002): the client goes on at the new home's API and
   * gateway (`url`), from PTS 0, after reloading the list and latest pages from there.
   */
  moved: [{ url: string; reason: string }]
  /** A conversation's metadata came from the API. */
  conversation: [ClientConversation]
  /** Something failed that the client works around (emitted only when listened to). */
  error: [Error]
}

/** The token's subject, read without verifying (the server does that). */
function subjectOf(token: string): string {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString())
    if (typeof claims.sub === 'string' && claims.sub !== '') return claims.sub
  } catch {}
  throw new ImflowClientError('IMF_ERR_UNAUTHORIZED', 'the token is not a JWT with a subject (sub)')
}

const PULL_CONCURRENCY = 4

/** The detail of a problem+json body; the text itself when it is not one. */
function problemDetail(body: string): string {
  try {
    const detail = (JSON.parse(body) as { detail?: unknown }).detail
    return typeof detail === 'string' ? detail : body
  } catch {
    return body
  }
}

export class ImflowClient extends EventEmitter<ClientEvents> {
  private readonly state: ClientState
  private http: ImflowHttp
  /** Where the gateway is: the options' until the user's home moves, then the new home's. */
  private gatewayBase: string
  private readonly token: TokenSource
  private socket: WebSocket | undefined
  /** Frames are applied one after another, a Rebase's pulls included. */
  private chain: Promise<void> = Promise.resolve()
  private attempt = 0
  private timer: NodeJS.Timeout | undefined
  private closing = false
  private opened: Promise<void> | undefined
  private firstOpen: { resolve(): void; reject(err: Error): void } | undefined
  private readonly wanted = new Set<string>()
  private describing: Promise<void> | undefined
  private readonly reads: ReadMerger

  constructor(private readonly options: ImflowClientOptions) {
    super()
    const { token } = options
    this.token = typeof token === 'string' ? () => token : token
    const userId = options.userId ?? (typeof token === 'string' ? subjectOf(token) : undefined)
    if (!userId)
      throw new ImflowClientError('IMF_ERR_CONFIG', 'give userId when token is a function')
    this.state = new ClientState(userId, options.lastPts ?? 0, options.seqs)
    this.http = options.http ?? fetchHttp(options.url, this.token)
    this.gatewayBase = options.gatewayUrl ?? options.url
    this.reads = new ReadMerger(
      async (conversationId, upTo) => {
        if (!this.http.read)
          throw new ImflowClientError('IMF_ERR_USAGE', 'the HTTP client cannot read')
        await this.http.read(conversationId, upTo)
      },
      options.readMergeMs,
      (err) => this.fail(err),
    )
  }

  /**
   * Marks a conversation read up to msgId. Receipts are merged per conversation: one goes out
   * per readMergeMs with the newest msgId marked, however many messages were read meanwhile.
   */
  markRead(conversationId: string, msgId: string): void {
    this.reads.mark(conversationId, msgId)
  }

  /** Adds or removes the user's reaction; the merged counts come back as ReactionSummary. */
  async react(conversationId: string, msgId: string, emoji: string, op: 'add' | 'remove') {
    if (!this.http.react)
      throw new ImflowClientError('IMF_ERR_USAGE', 'the HTTP client cannot react')
    await this.http.react(conversationId, msgId, emoji, op)
  }

  get userId(): string {
    return this.state.userId
  }

  /** The newest PTS applied: what the device would log in with. */
  get lastPts(): number {
    return this.state.lastPts
  }

  /** The newest seq held of each large group: pass it as `seqs` when the device starts again. */
  seqs(): Record<string, number> {
    return this.state.rooms.snapshot()
  }

  get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN
  }

  conversations(): ClientConversation[] {
    return this.state.conversations()
  }

  conversation(conversationId: string): ClientConversation | undefined {
    return this.state.conversation(conversationId)
  }

  /** Oldest first. */
  messages(conversationId: string): readonly ClientMessage[] {
    return this.state.messages.messages(conversationId)
  }

  /** POST /v1/messages; the message itself arrives as a push like any other. */
  send(message: Omit<OutgoingMessage, 'clientMsgId'> & { clientMsgId?: string }) {
    return this.http.send({ clientMsgId: randomUUID(), ...message })
  }

  /**
   * Connects; resolves once the first connection is up. A refused token rejects; other
   * failures are retried (backing off) until close().
   */
  connect(): Promise<void> {
    if (this.closing)
      return Promise.reject(new ImflowClientError('IMF_ERR_CLIENT_CLOSED', 'the client closed'))
    if (!this.opened) {
      this.opened = new Promise<void>((resolve, reject) => {
        this.firstOpen = { resolve, reject }
      })
      this.opened.catch(() => {}) // the caller's await sees it; nobody else should
      void this.open()
    }
    return this.opened
  }

  /** Resolves when every frame received so far is applied and no backfill is running. */
  async settled(): Promise<void> {
    for (;;) {
      const { chain, describing } = this
      await chain
      await describing
      if (chain === this.chain && !this.describing) return
    }
  }

  async close(): Promise<void> {
    await this.reads.flush()
    this.closing = true
    clearTimeout(this.timer)
    const socket = this.socket
    if (socket && socket.readyState !== WebSocket.CLOSED) {
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
      socket.close(1000, 'client closed')
      await closed
    }
    this.firstOpen?.reject(new ImflowClientError('IMF_ERR_CLIENT_CLOSED', 'the client closed'))
    await this.settled()
  }

  private fail(err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', err as Error)
  }

  private async open(): Promise<void> {
    let token: string
    try {
      token = await this.token()
    } catch (err) {
      this.fail(err)
      this.scheduleReconnect()
      return
    }
    if (this.closing) return
    const { deviceId, deviceClass = 'MOBILE' } = this.options
    const base = this.gatewayBase.replace(/^http/, 'ws').replace(/\/+$/, '')
    const query = new URLSearchParams({
      device: deviceId,
      lastPts: String(this.state.lastPts),
      class: deviceClass,
    })
    const socket = new WebSocket(`${base}/v1/ws?${query}`, {
      headers: { authorization: `Bearer ${token}` },
    })
    this.socket = socket
    let refused: number | undefined
    /** A refusal's problem detail: a 400 may name the user's new home (movedHomeReason). */
    let refusal = ''
    socket.on('unexpected-response', (_request, response) => {
      refused = response.statusCode
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('error', () => socket.terminate())
      response.on('end', () => {
        refusal = problemDetail(Buffer.concat(chunks).toString())
        socket.terminate()
      })
    })
    socket.on('open', () => {
      this.attempt = 0
      this.emit('open')
      this.firstOpen?.resolve()
      this.firstOpen = undefined
    })
    socket.on('message', (data, isBinary) => {
      if (isBinary) return
      const text = data.toString()
      this.chain = this.chain
        .then(() => this.handle(socket, text))
        .catch((err) => {
          // The frame could not be applied (a Rebase's pulls failed): reconnect, and the
          // server pushes again from what was applied (or rebases again).
          this.fail(err)
          socket.terminate()
        })
    })
    socket.on('error', (err) => this.fail(err))
    socket.on('close', (code, reason) => {
      if (this.socket !== socket) return
      this.socket = undefined
      // A newer connection of this device replaced this one: the device lives there now.
      // The user's home moved: the reason names where to connect (from PTS 0) instead; a
      // reason that names no API leaves it to the application. A refused token or request
      // will be refused again.
      const text = reason.toString()
      // Closed because the user moved, or refused because they had (a connection made after
      // the move, to the old home): either names the new home's API.
      const home =
        code === closeCodes.movedHome
          ? movedHomeUrl(text)
          : refused === 400
            ? movedHomeUrl(refusal)
            : undefined
      const final =
        this.closing ||
        code === closeCodes.replaced ||
        (code === closeCodes.movedHome && home === undefined) ||
        refused === 401 ||
        (refused === 400 && home === undefined)
      this.emit('close', { code, reason: text || refusal, reconnecting: !final })
      if (home !== undefined && !this.closing) {
        this.follow(home, text)
      } else if (!final) {
        this.scheduleReconnect()
      } else if (this.firstOpen && refused !== undefined) {
        this.firstOpen.reject(
          new ImflowClientError(
            refused === 401 ? 'IMF_ERR_UNAUTHORIZED' : 'IMF_ERR_BAD_REQUEST',
            `the push gateway refused the connection (${refused})`,
          ),
        )
        this.firstOpen = undefined
      }
    })
  }

  /**
   * The user is homed at `url` now: its API and gateway from here on (a given `http` stays:
   * every unit's API answers the user's reads as their home does). The new home's stream is
   * another one, so the device does what a Rebase does — the list and latest pages from the
   * new home, large groups from their newest seq — and logs in from PTS 0: it is pushed the new
   * stream from its start (or a Rebase). Reloaded first, so pushes apply over the reload; a
   * conversation whose moved row the new home's list lacks yet is kept as held.
   */
  private follow(url: string, reason: string): void {
    this.gatewayBase = url
    if (!this.options.http) this.http = fetchHttp(url, this.token)
    this.emit('moved', { url, reason })
    this.chain = this.chain
      .then(async () => {
        await this.rebase(0, { keepUnlisted: true })
        this.emit('rebase', 0)
      })
      .catch((err) => {
        // Not reloaded (the new home's API did not answer): log in from 0 all the same.
        this.fail(err)
        this.state.lastPts = 0
      })
    // Backing off like any reconnect: right after a move the new home's replica of the users
    // may not know it yet and send the device back (400), until it does.
    this.scheduleReconnect()
  }

  private scheduleReconnect(): void {
    if (this.closing) return
    const { initialDelayMs = 250, maxDelayMs = 10_000 } = this.options.reconnect ?? {}
    const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** this.attempt)
    this.attempt = Math.min(this.attempt + 1, 30)
    this.timer = setTimeout(
      async () => {
        // Log in with the PTS of everything received, not of what was applied so far.
        await this.chain
        if (!this.closing) await this.open()
      },
      delay * (0.5 + Math.random() / 2),
    )
  }

  private async handle(socket: WebSocket, text: string): Promise<void> {
    const frame = JSON.parse(text) as ServerFrame
    if (frame.type === 'events') {
      const { applied, describe } = this.state.applyEvents(frame.events)
      if (applied.length > 0) this.emit('events', applied)
      if (describe.size > 0) this.describeLater(describe)
    } else if (frame.type === 'rebase') {
      await this.rebase(frame.headPts)
      this.emit('rebase', frame.headPts)
    } else if (frame.type === 'room') {
      return this.applyRoom(frame) // outside the PTS order: nothing to ack
    } else if (frame.type === 'heads') {
      return this.catchUp(frame.conversations)
    } else {
      return // a newer server's frame: nothing to apply, nothing to ack
    }
    if (socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: 'ack', pts: this.state.lastPts }))
    }
  }

  private async rebase(headPts: number, options?: { keepUnlisted: boolean }): Promise<void> {
    const entries = await this.http.conversations()
    const pages = new Map<string, HistoryMessage[]>()
    // Conversations homed in another geo have no history here: their list entry is all.
    const queue = entries.filter((e) => !e.remote).map((e) => e.conversationId)
    const pageSize = this.options.pageSize ?? 50
    const worker = async () => {
      for (let cid = queue.shift(); cid !== undefined; cid = queue.shift()) {
        pages.set(cid, await this.http.latestMessages(cid, pageSize))
      }
    }
    await Promise.all(Array.from({ length: PULL_CONCURRENCY }, worker))
    this.state.rebase(headPts, entries, pages, options)
    for (const conversation of this.state.conversations()) this.emit('conversation', conversation)
  }

  private async applyRoom(frame: RoomFrame): Promise<void> {
    const step = this.state.rooms.step(frame.conversationId, frame.seq)
    if (step.kind === 'skip') return
    if (step.kind === 'pull') await this.pullAfter(frame.conversationId, step.after)
    const describe = new Set<string>()
    const added = this.state.applyRoomEvent(frame.event, frame.seq, describe)
    if (added) this.emit('messages', [added])
    if (describe.size > 0) this.describeLater(describe)
  }

  /** Each large group the heads frame shows ahead of the device: its gap, or its latest page. */
  private async catchUp(heads: RoomHead[]): Promise<void> {
    const queue = this.state.rooms.plan(heads)
    const worker = async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        if (next.after === undefined) await this.reload(next.conversationId, next.head)
        else await this.pullAfter(next.conversationId, next.after)
      }
    }
    await Promise.all(Array.from({ length: PULL_CONCURRENCY }, worker))
  }

  private async pullAfter(conversationId: string, after: number): Promise<void> {
    const limit = this.options.pageSize ?? 50
    for (let from: number | null = after; from !== null; ) {
      const page = await this.http.messagesAfter(conversationId, from, limit)
      if (page.reload) return this.reload(conversationId, page.headSeq)
      const added = this.state.addPulled(conversationId, page.messages)
      if (added.length > 0) this.emit('messages', added)
      if (page.next === null) this.state.rooms.advance(conversationId, page.headSeq)
      from = page.next
    }
  }

  private async reload(conversationId: string, headSeq: number): Promise<void> {
    const page = await this.http.latestMessages(conversationId, this.options.pageSize ?? 50)
    this.state.reload(conversationId, page, headSeq)
    this.emit('reload', conversationId, headSeq)
  }

  /** Fetches the list once for all conversations met meanwhile, off the frames' path. */
  private describeLater(conversationIds: Iterable<string>): void {
    for (const id of conversationIds) this.wanted.add(id)
    this.describing ??= (async () => {
      while (this.wanted.size > 0 && !this.closing) {
        const only = new Set(this.wanted)
        this.wanted.clear()
        try {
          this.state.describe(await this.http.conversations(), only)
          for (const id of only) {
            const conversation = this.state.conversation(id)
            if (conversation?.described) this.emit('conversation', conversation)
          }
        } catch (err) {
          this.fail(err) // the conversation's next push asks again
        }
      }
    })().finally(() => {
      this.describing = undefined
    })
  }
}
