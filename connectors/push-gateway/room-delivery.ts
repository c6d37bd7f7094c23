// Large groups on this gateway (docs/sync.md, "Large groups"): which connected users follow
// which large groups, and im.rooms delivered to their devices — O(online member devices here)
// per event, nothing for members who are offline. At log-in, and whenever the user's groups
// change, each device is told every large group's newest seq (a heads frame) and pulls what it
// lacks; room events that arrived while the groups were looked up are replayed from a short
// buffer, so none falls between the look-up and the first push. The user's list is kept by
// another topology than the one that pushes the membership event, and may not have caught up:
// the conversations an event names are asked about one by one, at their source. Members who
// leave are named in the room itself, ahead of its next message, and are dropped at once.

import type { Logger } from '../../ops/log.js'
import type { RoomEvent, SequencedEvent } from '../../schemas/types.generated.js'
import { headsFrame, type RoomHead, roomFrame } from '../protocol/frames.js'
import type { DeviceSession, DeviceSessions } from './sessions.js'
import { type WireFrame, wireFrame } from './wire-frame.js'

export interface RoomDirectory {
  /** The user's large groups with their newest seq; `token` is the user's, for an API call. */
  largeGroupsOf(userId: string, token: string): Promise<RoomHead[]>
  /** One large group's head if the user is a member of it now; undefined if not (or not large). */
  largeGroup(userId: string, conversationId: string, token: string): Promise<RoomHead | undefined>
}

/** fetch's own error says only "fetch failed": its cause says why (refused, reset, timed out). */
async function call(url: string, token: string): Promise<Response> {
  try {
    return await fetch(url, { headers: { authorization: `Bearer ${token}` } })
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause
    throw new Error(`GET ${url}: ${cause?.code ?? cause?.message ?? String(err)}`, { cause: err })
  }
}

/** A gateway apart from the API asks it, with the device's own token (GET /v1/conversations). */
export function apiRoomDirectory(apiUrl: string): RoomDirectory {
  const base = apiUrl.replace(/\/+$/, '')
  return {
    async largeGroupsOf(_userId, token) {
      const res = await call(`${base}/v1/conversations`, token)
      if (!res.ok) throw new Error(`GET /v1/conversations answered ${res.status}`)
      const { conversations } = (await res.json()) as {
        conversations: { conversationId: string; large: boolean; seq?: number }[]
      }
      return conversations
        .filter((c) => c.large)
        .map((c) => ({ conversationId: c.conversationId, seq: c.seq ?? 0 }))
    },
    async largeGroup(_userId, conversationId, token) {
      const res = await call(
        `${base}/v1/conversations/${encodeURIComponent(conversationId)}`,
        token,
      )
      if (res.status === 403) return undefined
      if (!res.ok) throw new Error(`GET /v1/conversations/:cid answered ${res.status}`)
      const c = (await res.json()) as { large: boolean; seq?: number }
      return c.large ? { conversationId, seq: c.seq ?? 0 } : undefined
    },
  }
}

export interface PushSocket {
  readonly readyState: number
  readonly OPEN: number
  /** The negotiated extensions (ws): with none, no compression, frames can go out as bytes. */
  readonly extensions?: string
  send(data: Buffer, options: { binary: boolean }): void
  /** ws' TCP socket (not ws' public API, so optional): what frames encoded once are written to. */
  readonly _socket?: { write(data: Buffer): boolean } | null
}

/** Frames are JSON text. */
const TEXT = { binary: false }

/** Room events kept for replay to devices whose groups were being looked up meanwhile. */
const RECENT_EVENTS = 10_000

/**
 * Sockets written per turn of the event loop: a room event for thousands of devices is
 * written over several turns, so the gateway's and the topologies' Kafka clients are heard in
 * between (each write is a syscall: ~1,000 of them take a few milliseconds).
 */
const SOCKETS_PER_TURN = 1_000

/**
 * Frames queued per socket and written at the end of the turn, each socket's as one write:
 * every frame a socket got in one turn — several groups' events, a fetch's worth of one
 * group's — goes out in one syscall. The busier the gateway, the more a write carries. Without
 * compression (the gateway negotiates none) the frames' bytes, encoded once for all sockets,
 * are written to the TCP socket directly, in order with ws' own writes (ws writes at once when
 * it does not compress).
 */
class Outbox<S extends PushSocket> {
  private readonly queued = new Map<S, WireFrame[]>()
  private scheduled = false

  /** Queues a frame for the socket if it is open; answers whether it was. */
  push(socket: S, frame: WireFrame): boolean {
    if (socket.readyState !== socket.OPEN) return false
    const frames = this.queued.get(socket)
    if (frames) frames.push(frame)
    else this.queued.set(socket, [frame])
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => this.flush(SOCKETS_PER_TURN))
    }
    return true
  }

  /** Writes the queued frames of up to `sockets` sockets; the rest in the next turn. */
  private flush(sockets: number): void {
    let written = 0
    for (const [socket, frames] of this.queued) {
      if (written === sockets) break
      this.queued.delete(socket)
      written++
      if (socket.readyState !== socket.OPEN) continue
      const tcp = socket.extensions === '' ? socket._socket : undefined
      if (!tcp) for (const frame of frames) socket.send(frame.payload, TEXT)
      else if (frames.length === 1) tcp.write((frames[0] as WireFrame).wire)
      else tcp.write(Buffer.concat(frames.map((f) => f.wire)))
    }
    if (this.queued.size === 0) this.scheduled = false
    else setImmediate(() => this.flush(SOCKETS_PER_TURN))
  }
}

export class RoomDelivery<S extends PushSocket> {
  /** conversationId -> users connected here who are members. */
  private readonly followers = new Map<string, Set<string>>()
  /** userId -> the large groups they follow. */
  private readonly follows = new Map<string, Set<string>>()
  private readonly tokens = new Map<string, string>()
  /** One look-up at a time per user, in order. */
  private readonly lookups = new Map<string, Promise<void>>()
  /** Users with a refresh queued and not started: a burst of membership events asks once. */
  private readonly refreshQueued = new Set<string>()
  /** userId -> conversations named by membership or size events since their last refresh. */
  private readonly named = new Map<string, Set<string>>()
  private readonly outbox = new Outbox<S>()
  private recent: RoomEvent[] = []
  /** How many events ever left `recent` at its front: absolute positions stay comparable. */
  private dropped = 0

  constructor(
    private readonly sessions: DeviceSessions<S>,
    private readonly directory: RoomDirectory,
    private readonly log: Logger,
  ) {}

  /** Pushes a room event to the member devices held here; answers how many frames went out. */
  deliver(event: RoomEvent): number {
    this.recent.push(event)
    if (this.recent.length > 2 * RECENT_EVENTS) {
      this.recent = this.recent.slice(RECENT_EVENTS)
      this.dropped += RECENT_EVENTS
    }
    // A roster notice: those who left get nothing of the group from here on; no device needs it.
    if (event.removed.length) {
      for (const userId of event.removed) this.unfollow(userId, event.conversationId)
      if (event.event.payload.kind === 'MembershipChanged') return 0
    }
    const users = this.followers.get(event.conversationId)
    if (!users) return 0
    // Encoded once for all its devices (a string would be encoded again for each socket).
    const frame = wireFrame(roomFrame(event))
    let sent = 0
    for (const userId of users) sent += this.send(this.sessions.ofUser(userId), frame)
    return sent
  }

  /** A device connected: it learns its user's large groups' heads. Rejects if they cannot be looked up. */
  login(session: DeviceSession<S>, token: string): Promise<void> {
    this.tokens.set(session.userId, token)
    return this.lookUp(session.userId, [session])
  }

  /** A device went away; with the user's last one gone, their groups are forgotten here. */
  logout(userId: string): void {
    if (this.sessions.hasUser(userId)) return
    this.setFollows(userId, [])
    this.tokens.delete(userId)
    this.named.delete(userId)
  }

  /** Events pushed to the user: a membership or size change makes their groups looked up again. */
  onUserEvents(userId: string, events: readonly SequencedEvent[]): void {
    if (!this.tokens.has(userId)) return
    const changed = events.flatMap(({ event: { payload } }) =>
      payload.kind === 'MembershipChanged' ||
      (payload.kind === 'ConversationChanged' &&
        (payload.description === 'large' || payload.description === 'small'))
        ? [payload.conversationId]
        : [],
    )
    if (changed.length === 0) return
    const named = this.named.get(userId) ?? new Set<string>()
    for (const cid of changed) named.add(cid)
    this.named.set(userId, named)
    this.refresh(userId)
  }

  /**
   * Looks the user's groups up again, once per burst: after membership events, or a Rebase
   * (the events it skipped may have changed them).
   */
  refresh(userId: string): void {
    if (!this.tokens.has(userId) || this.refreshQueued.has(userId)) return
    this.refreshQueued.add(userId)
    this.lookUp(userId, undefined).catch((err) =>
      this.log.warn('could not refresh a user’s large groups', { userId, error: String(err) }),
    )
  }

  private lookUp(userId: string, only: DeviceSession<S>[] | undefined): Promise<void> {
    const previous = this.lookups.get(userId) ?? Promise.resolve()
    const next = previous.then(async () => {
      const named = only === undefined ? this.named.get(userId) : undefined
      if (only === undefined) {
        this.refreshQueued.delete(userId)
        this.named.delete(userId)
      }
      const from = this.dropped + this.recent.length
      const heads = await this.headsOf(userId, named ?? new Set())
      const targets = only ?? [...this.sessions.ofUser(userId)]
      if (targets.every((s) => !this.sessions.isCurrent(s))) return
      this.setFollows(
        userId,
        heads.map((h) => h.conversationId),
      )
      this.send(targets, wireFrame(headsFrame(heads)))
      // What arrived during the look-up, for the groups now followed (devices drop repeats by
      // seq), in order with the notices of those who left meanwhile.
      const followed = this.follows.get(userId) ?? new Set<string>()
      for (const event of this.recent.slice(Math.max(0, from - this.dropped))) {
        if (event.removed.includes(userId)) this.unfollow(userId, event.conversationId)
        else if (
          followed.has(event.conversationId) &&
          event.event.payload.kind !== 'MembershipChanged'
        )
          this.send(targets, wireFrame(roomFrame(event)))
      }
    })
    const settled = next.catch(() => {})
    this.lookups.set(userId, settled)
    void settled.then(() => {
      if (this.lookups.get(userId) === settled) this.lookups.delete(userId)
    })
    return next
  }

  /** The user's list of large groups, corrected by asking about each named one directly. */
  private async headsOf(userId: string, named: ReadonlySet<string>): Promise<RoomHead[]> {
    const token = this.tokens.get(userId) ?? ''
    const listed = await this.directory.largeGroupsOf(userId, token)
    const heads = new Map(listed.map((h) => [h.conversationId, h]))
    for (const cid of named) {
      const head = await this.directory.largeGroup(userId, cid, token)
      if (head) heads.set(cid, head)
      else heads.delete(cid)
    }
    return [...heads.values()]
  }

  private setFollows(userId: string, conversationIds: readonly string[]): void {
    for (const cid of this.follows.get(userId) ?? []) this.unfollow(userId, cid)
    if (conversationIds.length === 0) {
      this.follows.delete(userId)
      return
    }
    this.follows.set(userId, new Set(conversationIds))
    for (const cid of conversationIds) {
      let users = this.followers.get(cid)
      if (!users) {
        users = new Set()
        this.followers.set(cid, users)
      }
      users.add(userId)
    }
  }

  private unfollow(userId: string, conversationId: string): void {
    this.follows.get(userId)?.delete(conversationId)
    const users = this.followers.get(conversationId)
    users?.delete(userId)
    if (users?.size === 0) this.followers.delete(conversationId)
  }

  /** Queues the frame for each open socket (see Outbox); answers how many. */
  private send(targets: Iterable<DeviceSession<S>>, frame: WireFrame): number {
    let sent = 0
    for (const { socket } of targets) if (this.outbox.push(socket, frame)) sent++
    return sent
  }
}
