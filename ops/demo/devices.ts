// The demo's devices: a fleet of ImflowClient connections that come and go (a device that
// goes offline comes back later with its last PTS), count the pushes of this run's messages
// and their latency, and send read receipts for some of what they receive, at most one per
// conversation per flush, as a client app does.

import { ImflowClient } from '../../connectors/client/index.js'
import type { SequencedEvent } from '../../schemas/types.generated.js'
import type { DemoStats } from './stats.js'

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

  /** Sends the read receipts gathered since the last flush. */
  async flushReads(): Promise<void> {
    const batch = [...this.unread].flatMap(([user, byConversation]) =>
      [...byConversation].map(([cid, msgId]) => ({ user, cid, msgId })),
    )
    this.unread.clear()
    await Promise.all(
      batch.map(async ({ user, cid, msgId }) => {
        const res = await fetch(
          `${this.options.url}/v1/conversations/${encodeURIComponent(cid)}/read`,
          {
            method: 'POST',
            headers: {
              authorization: `Bearer ${this.options.token(user)}`,
              'content-type': 'application/json',
            },
            body: JSON.stringify({ msgId }),
          },
        ).catch(() => undefined)
        if (res?.ok) this.options.stats.reads++
        else this.options.stats.error(res ? `read ${res.status}` : 'read unreachable')
      }),
    )
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
    }
  }
}
