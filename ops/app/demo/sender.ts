// The demo's sending side: each message from its sender's own token over POST /v1/messages,
// counted by kind and by answer (accepted, throttled, rejected with its reason, failed).

import {
  fetchHttp,
  type ImflowHttp,
  isImflowClientError,
} from '../../../connectors/client/index.js'
import type { DemoMessage } from './plan.js'
import type { DemoStats } from './stats.js'

export class DemoSender {
  readonly kinds: Record<string, number> = {}
  /** When each message was sent (by clientMsgId), for the devices' latency. */
  readonly sentAt = new Map<string, number>()
  inFlight = 0
  private readonly http = new Map<string, ImflowHttp>()

  constructor(
    private readonly url: string,
    private readonly token: (userId: string) => string,
    private readonly stats: DemoStats,
  ) {}

  async send(clientMsgId: string, m: DemoMessage): Promise<void> {
    const { stats } = this
    const kind = m.targets ? 'private' : m.conversation.kind
    this.kinds[kind] = (this.kinds[kind] ?? 0) + 1
    const client = this.http.get(m.senderId) ?? fetchHttp(this.url, () => this.token(m.senderId))
    this.http.set(m.senderId, client)
    stats.sent++
    this.inFlight++
    this.sentAt.set(clientMsgId, Date.now())
    try {
      await client.send({
        conversationId: m.conversation.id,
        clientMsgId,
        type: 'TEXT',
        body: `demo message ${clientMsgId}`,
        ...(m.targets ? { visibility: 'PRIVATE' as const, targets: m.targets } : {}),
      })
      stats.accepted++
      stats.recipients += m.targets ? m.targets.length + 1 : m.conversation.members.length
    } catch (err) {
      const code = isImflowClientError(err) ? err.code : 'unknown'
      if (code === 'IMF_ERR_THROTTLED') stats.throttled++
      else if (code === 'IMF_ERR_REJECTED') stats.rejected++
      else stats.failed++
      const reason = isImflowClientError(err) ? err.details.reason : undefined
      stats.error(reason ? `${code}:${String(reason)}` : code)
    } finally {
      this.inFlight--
    }
  }

  /** Forgets send times older than `ms` (their pushes are long due). */
  forget(ms: number): void {
    const before = Date.now() - ms
    for (const [id, at] of this.sentAt) {
      if (at > before) break
      this.sentAt.delete(id)
    }
  }
}
