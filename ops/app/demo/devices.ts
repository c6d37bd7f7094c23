// The demo's devices: a fleet of ImflowClient connections that come and go (a device that
// goes offline comes back later with its last PTS), count the pushes of this run's messages
// and their latency, and send read receipts for some of what they receive (at most one per
// conversation per flush, as a client app does) and reactions to a few (once the server has
// the reactions route; a 404 stops them).

import { ImflowClient } from '../../../connectors/client/index.js'
import type { SequencedEvent } from '../../../schemas/types.generated.js'
import type { DemoStats } from './stats.js'

/** Of the messages a device receives from others, the part it reacts to, and with what. */
const REACT_SHARE = 0.05
const EMOJI = ['👍', '❤️', '😂', '🎉', '👀']

/** A 404 that says the route does not exist (not that the message does not). */
async function noRoute(res: Response): Promise<boolean> {
  const problem = (await res.json().catch(() => ({}))) as { detail?: unknown }
  return String(problem.detail ?? '').startsWith('no route')
}

export interface FleetOptions {
  url: string
  token(userId: string): string
  /** Users who may have a device online. */
  users: readonly string[]
  /** Devices online at once. */
  size: number
  /** Of the messages a device receives from others, the part it reads. */
  readShare: number
  stats: DemoStats
  /** When this run sent each message (by clientMsgId), on this machine's clock. */
  sentAt: ReadonlyMap<string, number>
  rng: () => number
}

export class DeviceFleet {
  private readonly online = new Map<string, ImflowClient>()
  private readonly lastPts = new Map<string, number>()
  private readonly unread = new Map<string, Map<string, string>>()
  private readonly reactions: { user: string; cid: string; msgId: string; emoji: string }[] = []
  /** False once the server answered that it has no reactions route. */
  private reacting = true

  constructor(private readonly options: FleetOptions) {}

  get count(): number {
    return this.online.size
  }

  async start(): Promise<void> {
    const { users, size, rng } = this.options
    const wanted = new Set<string>()
    while (wanted.size < Math.min(size, users.length)) {
      wanted.add(users[Math.floor(rng() * users.length)] as string)
    }
    const queue = [...wanted]
    const worker = async () => {
      for (let u = queue.shift(); u !== undefined; u = queue.shift()) await this.login(u)
    }
    await Promise.all(Array.from({ length: 16 }, worker))
  }

  /** `share` of the online devices log out; as many others (or the same, later) log in. */
  async churn(share: number): Promise<void> {
    const { users, rng } = this.options
    const leaving = [...this.online.keys()].filter(() => rng() < share)
    await Promise.all(leaving.map((u) => this.logout(u)))
    for (let i = 0; i < leaving.length; i++) {
      const u = users[Math.floor(rng() * users.length)] as string
      if (!this.online.has(u)) await this.login(u)
    }
  }

  /** Sends the read receipts and reactions gathered since the last flush. */
  async flushReads(): Promise<void> {
    const reads = [...this.unread].flatMap(([user, byConversation]) =>
      [...byConversation].map(([cid, msgId]) => ({ user, cid, msgId })),
    )
    this.unread.clear()
    const reactions = this.reactions.splice(0)
    const { stats } = this.options
    await Promise.all([
      ...reads.map(async ({ user, cid, msgId }) => {
        const res = await this.post(user, `/v1/conversations/${encodeURIComponent(cid)}/read`, {
          msgId,
        })
        if (res?.ok) stats.reads++
        else stats.error(res ? `read ${res.status}` : 'read unreachable')
      }),
      ...reactions.map(async ({ user, cid, msgId, emoji }) => {
        if (!this.reacting) return
        const path = `/v1/conversations/${encodeURIComponent(cid)}/messages/${msgId}/reactions`
        const res = await this.post(user, path, { emoji, op: 'add' })
        // An imflow without reactions yet: stop trying, once.
        if (res?.status === 404 && (await noRoute(res))) this.reacting = false
        else if (res?.ok) stats.reactions++
        else stats.error(res ? `reaction ${res.status}` : 'reaction unreachable')
      }),
    ])
  }

  private post(user: string, path: string, body: unknown): Promise<Response | undefined> {
    return fetch(`${this.options.url}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${this.options.token(user)}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify(body),
    }).catch(() => undefined)
  }

  async stop(): Promise<void> {
    await Promise.all([...this.online.keys()].map((u) => this.logout(u)))
  }

  private async login(user: string): Promise<void> {
    const client = new ImflowClient({
      url: this.options.url,
      token: () => this.options.token(user),
      userId: user,
      deviceId: `${user}-phone`,
      lastPts: this.lastPts.get(user) ?? 0,
      reconnect: { initialDelayMs: 200, maxDelayMs: 2_000 },
    })
    client.on('events', (events) => this.received(user, events))
    client.on('error', () => {}) // reconnects on its own; the counts show what arrived
    this.online.set(user, client)
    try {
      await client.connect()
      this.options.stats.logins++
    } catch (err) {
      this.online.delete(user)
      this.options.stats.error(`login: ${(err as { code?: string }).code ?? String(err)}`)
    }
  }

  private async logout(user: string): Promise<void> {
    const client = this.online.get(user)
    if (!client) return
    this.online.delete(user)
    await client.close()
    this.lastPts.set(user, client.lastPts)
    this.options.stats.logouts++
  }

  private received(user: string, events: SequencedEvent[]): void {
    const { stats, sentAt, readShare, rng } = this.options
    const now = Date.now()
    for (const { event } of events) {
      if (event.payload.kind !== 'NewMessage') continue
      const { message } = event.payload
      const at = sentAt.get(message.clientMsgId)
      if (at !== undefined) stats.deliveredAfter(now - at)
      if (message.senderId !== user && rng() < readShare) {
        const mine = this.unread.get(user) ?? new Map<string, string>()
        this.unread.set(user, mine)
        mine.set(message.conversationId, message.msgId)
      }
      if (message.senderId !== user && this.reacting && rng() < REACT_SHARE) {
        const emoji = EMOJI[Math.floor(rng() * EMOJI.length)] as string
        this.reactions.push({ user, cid: message.conversationId, msgId: message.msgId, emoji })
      }
    }
  }
}
