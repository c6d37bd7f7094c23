// A user's own read receipts, merged per conversation before they are sent: reading through a
// conversation marks many messages read in a second, but only the newest matters (a receipt
// "up to m" covers everything before it). So at most one receipt per conversation goes out
// per interval (default 300 ms), carrying the newest msgId marked; older marks are dropped.

import { compareMsgIds } from '../../schemas/msg-id.js'

export type SendRead = (conversationId: string, upToMsgId: string) => Promise<void>

export class ReadMerger {
  /** Newest msgId marked and not yet sent, per conversation. */
  private readonly pending = new Map<string, string>()
  /** Newest msgId sent, per conversation: marks at or below it are no news. */
  private readonly sent = new Map<string, string>()
  private readonly timers = new Map<string, NodeJS.Timeout>()
  private readonly inFlight = new Set<Promise<void>>()

  constructor(
    private readonly send: SendRead,
    private readonly intervalMs = 300,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** Marks the conversation read up to msgId; sent within the interval, merged with later marks. */
  mark(conversationId: string, msgId: string): void {
    const newest = this.pending.get(conversationId) ?? this.sent.get(conversationId)
    if (newest !== undefined && compareMsgIds(newest, msgId) >= 0) return
    this.pending.set(conversationId, msgId)
    if (!this.timers.has(conversationId)) {
      this.timers.set(
        conversationId,
        setTimeout(() => this.flushOne(conversationId), this.intervalMs),
      )
    }
  }

  private flushOne(conversationId: string): void {
    clearTimeout(this.timers.get(conversationId))
    this.timers.delete(conversationId)
    const msgId = this.pending.get(conversationId)
    if (msgId === undefined) return
    this.pending.delete(conversationId)
    this.sent.set(conversationId, msgId)
    const sending = this.send(conversationId, msgId).catch((err) => {
      // Not sent: a later mark (or flush) tries again with the newest.
      if (this.sent.get(conversationId) === msgId) this.sent.delete(conversationId)
      this.onError(err)
    })
    this.inFlight.add(sending)
    void sending.finally(() => this.inFlight.delete(sending))
  }

  /** Sends every pending mark now and waits for the sends. */
  async flush(): Promise<void> {
    for (const conversationId of [...this.pending.keys()]) this.flushOne(conversationId)
    await Promise.all(this.inFlight)
  }
}
