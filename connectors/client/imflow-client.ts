// ImflowClient: a device's connection to imflow, for Node (tests, `imflow demo`, users' apps).
// It holds a WebSocket to the push gateway, applies what is pushed in PTS order, acks what
// it applied (at most every few ms), answers a Rebase by pulling the latest pages over the
// API, backfills conversations it first meets in a push (and the latest page of one whose row
// reaches a new home after the move's reload), and reconnects with its last PTS
// (backing off, up to a bound) until close(). Large groups' messages come apart from the
// PTS stream, numbered per conversation: it applies them in seq order and pulls any gap it
// finds. When the user's home unit changes (close 4002, naming the new home's API), it
// follows: it reloads the list and latest pages from the new home and connects to its gateway
// from PTS 0 (a new stream). This class holds the connection's life and the public API; the
// parts beside it do the rest: gateway-socket (the log-in), close-outcome (what a close
// means), frame-handler (what is pushed) and pulls (what is pulled over the API).

import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import WebSocket from 'ws'
import { ImflowClientError } from '../protocol/client-errors.js'
import type { ClientEvents } from './client-events.js'
import type { ImflowClientOptions } from './client-options.js'
import { ClientState } from './client-state.js'
import { closeOutcome } from './close-outcome.js'
import { FrameHandler } from './frame-handler.js'
import { openGatewaySocket } from './gateway-socket.js'
import { fetchHttp, type ImflowHttp, type TokenSource } from './http-api.js'
import { Pulls } from './pulls.js'
import { ReadMerger } from './read-merger.js'
import type { ClientConversation, ClientMessage, OutgoingMessage } from './types.js'

/** The token's subject, read without verifying (the server does that). */
function subjectOf(token: string): string {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString())
    if (typeof claims.sub === 'string' && claims.sub !== '') return claims.sub
  } catch {}
  throw new ImflowClientError('IMF_ERR_UNAUTHORIZED', 'the token is not a JWT with a subject (sub)')
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
  private readonly pulls: Pulls
  private readonly frames: FrameHandler
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
    this.pulls = new Pulls({
      http: () => this.http,
      state: this.state,
      events: this,
      fail: (err) => this.fail(err),
      closing: () => this.closing,
      pageSize: options.pageSize ?? 50,
    })
    this.frames = new FrameHandler(this.state, this.pulls, this)
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
      const { chain } = this
      const backfill = this.pulls.backfill
      await chain
      await backfill
      if (chain === this.chain && !this.pulls.backfill) return
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
    const { socket, refusal } = openGatewaySocket(this.gatewayBase, token, {
      deviceId,
      lastPts: this.state.lastPts,
      deviceClass,
    })
    this.socket = socket
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
        .then(() => this.frames.handle(socket, text))
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
      const text = reason.toString()
      const refused = refusal()
      const outcome = closeOutcome({ code, reason: text, refused, closing: this.closing })
      const reconnecting = outcome.kind !== 'final'
      this.emit('close', { code, reason: text || (refused?.detail ?? ''), reconnecting })
      if (outcome.kind === 'follow') {
        this.follow(outcome.url, text)
      } else if (outcome.kind === 'reconnect') {
        this.scheduleReconnect()
      } else if (this.firstOpen && outcome.error) {
        this.firstOpen.reject(outcome.error)
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
        await this.pulls.rebase(0, { keepUnlisted: true })
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
}
