// What `imflow demo` counts: sends and their answers, deliveries to its devices and their
// latency (send to push, on this machine's clock), reads, devices coming and going.

import { percentiles } from '../../../bench/latency.js'

/** Latency samples kept for the final report; beyond this, a uniform reservoir. */
const RESERVOIR = 100_000

export class DemoStats {
  private startedAt = Date.now()
  sent = 0
  accepted = 0
  throttled = 0
  rejected = 0
  failed = 0
  /** Sends skipped because too many were still waiting for their receipt. */
  skipped = 0
  recipients = 0
  delivered = 0
  reads = 0
  reactions = 0
  logins = 0
  logouts = 0
  readonly errors = new Map<string, number>()
  private readonly all: number[] = []
  private seen = 0
  private window: number[] = []

  error(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1)
  }

  /** A message this run sent reached one of its devices, `ms` after it was sent. */
  deliveredAfter(ms: number): void {
    this.delivered++
    this.window.push(ms)
    this.seen++
    if (this.all.length < RESERVOIR) this.all.push(ms)
    else {
      const i = Math.floor(Math.random() * this.seen)
      if (i < RESERVOIR) this.all[i] = ms
    }
  }

  /** p50/p99 of the deliveries since the last call (the live screen's recent latency). */
  takeWindow() {
    const window = percentiles(this.window)
    this.window = []
    return window
  }

  overall() {
    return percentiles(this.all)
  }

  private sendingEndedAt: number | undefined

  /** Sending starts now (the setup before it is not counted in the rates). */
  startSending(): void {
    this.startedAt = Date.now()
  }

  /** Sending is over; what follows is waiting for receipts and pushes. */
  stopSending(): void {
    this.sendingEndedAt ??= Date.now()
  }

  get draining(): boolean {
    return this.sendingEndedAt !== undefined
  }

  /** Seconds of sending (rates are per these), not counting the drain after it. */
  elapsedSeconds(): number {
    return ((this.sendingEndedAt ?? Date.now()) - this.startedAt) / 1000
  }
}
