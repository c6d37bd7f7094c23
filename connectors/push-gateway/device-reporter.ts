// Reports device log-ins, acks and log-outs on im.device-events, in the order the gateway saw
// them: one send in flight at a time, each carrying everything queued meanwhile (a natural
// linger: thousands of acks a second become a few requests, not one round trip each). The
// sync topology reads a device's events as a sequence (an ack before its log-in is dropped),
// so the order must hold, also across retries: the producer is idempotent with one request in
// flight. Acks of a device waiting in the queue are merged: only the newest PTS matters.

import { ImflowError } from '../../ops/errors.js'
import type { Logger } from '../../ops/log.js'
import { isRetriable, retry } from '../../ops/retry.js'
import type { EventCodec } from '../../schemas/codec.js'
import type { DeviceEvent } from '../../schemas/types.generated.js'

export interface KeyedRecord {
  key: string
  value: Buffer
}

/** Writes records in the order given, keyed by user (Kafka's default partitioner). */
export type RecordSink = (records: KeyedRecord[]) => Promise<void>

interface Queued {
  device: string
  event: DeviceEvent
  waiters: { resolve(): void; reject(err: unknown): void }[]
}

const MAX_BATCH = 1_000

export class DeviceReporter {
  private queue: Queued[] = []
  /** Each device's newest queued (not yet sending) event, to merge acks into. */
  private lastQueued = new Map<string, Queued>()
  private sending = false
  private pumping: Promise<void> = Promise.resolve()
  private closed = false

  constructor(
    private readonly sink: RecordSink,
    private readonly codec: EventCodec<DeviceEvent>,
    private readonly log: Logger,
  ) {}

  /** Queues the event; resolves once it is written (rejects if it could not be). */
  report(event: DeviceEvent): Promise<void> {
    if (this.closed) {
      this.log.debug('device event after the reporter closed', { deviceId: event.deviceId })
      return Promise.resolve()
    }
    const device = `${event.userId}\u0000${event.deviceId}`
    const done = new Promise<void>((resolve, reject) => {
      const last = this.lastQueued.get(device)
      if (event.event.kind === 'Acked' && last?.event.event.kind === 'Acked') {
        last.event.event.pts = Math.max(last.event.event.pts, event.event.pts)
        last.event.at = event.at
        last.waiters.push({ resolve, reject })
        return
      }
      const entry: Queued = {
        device,
        event: structuredClone(event),
        waiters: [{ resolve, reject }],
      }
      this.queue.push(entry)
      this.lastQueued.set(device, entry)
    })
    if (!this.sending) {
      this.sending = true
      this.pumping = this.pump()
    }
    return done
  }

  /** Resolves once everything reported so far is written (or given up). */
  async flush(): Promise<void> {
    while (this.sending) await this.pumping
  }

  /** Writes what is queued, then accepts nothing more. */
  async close(): Promise<void> {
    await this.flush()
    this.closed = true
  }

  private async pump(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.sendBatch()
    } finally {
      // In the same step as the last look at the queue: a report after it starts a new pump.
      this.sending = false
    }
  }

  private async sendBatch(): Promise<void> {
    const batch = this.queue.splice(0, MAX_BATCH)
    for (const entry of batch) {
      if (this.lastQueued.get(entry.device) === entry) this.lastQueued.delete(entry.device)
    }
    try {
      const records = batch.map(({ event }) => ({
        key: event.userId,
        value: this.codec.encode(event),
      }))
      // kafkajs retries inside a send too, then gives up with a non-retriable error wrapping a
      // retriable one; going on for longer outlasts a broker restart.
      await retry(
        () =>
          this.sink(records).catch((err) => {
            if (!isRetriable(err) && isRetriable((err as Error).cause)) {
              throw new ImflowError('IMF_ERR_KAFKA_UNAVAILABLE', String(err), { cause: err })
            }
            throw err
          }),
        { retries: 6, initialDelayMs: 200, maxDelayMs: 5_000 },
      )
      for (const entry of batch) for (const w of entry.waiters) w.resolve()
    } catch (err) {
      // Given up: a device whose log-in is lost is disconnected (ws-route), to log in again; a
      // lost log-out is repaired by the sync topology (a device that never acks its re-sends
      // is taken for offline); a lost ack by the next one.
      this.log.error('device events could not be written', {
        count: batch.length,
        error: String(err),
      })
      for (const entry of batch) for (const w of entry.waiters) w.reject(err)
    }
  }
}
