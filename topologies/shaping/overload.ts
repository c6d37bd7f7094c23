// A task's view of its load, in event time (StreamTime): a capacity bucket (what HIGH
// admissions spend; an empty one means overload) and the offered HIGH load per conversation
// in a decaying space-saving sketch (the hottest conversations). Both move with the records'
// time, not the time they are processed, so a backlog is judged by the rates it was sent at
// and a replay decides as the live app did. Its state() is saved with every decision (the
// shaper keeps it in a store), so a restarted task goes on from where it was, as an unbroken
// run would. The adaptive capacity is the one wall-clock part: it is steered by the lag in
// real time (capacity.ts), and starts again at the budget after a restart.

import { adaptCapacity, type CapacitySettings } from './capacity.js'
import { type HotConversation, overShare } from './fair-share.js'
import { SpaceSaving } from './space-saving.js'

export interface OverloadSettings extends CapacitySettings {
  /** Conversations tracked by the sketch. */
  sketchSize: number
  /** How fast offered rates forget (ms). */
  halfLifeMs: number
  /** Groups with more members than this are "large": throttled first. */
  largeGroupMembers: number
}

/** What is kept of the view across restarts: all of it but the adaptive capacity. */
export interface LoadState {
  /** Event time it was brought up to. */
  at: number
  tokens: number
  /** The sketch: its total and its counters, with whether each is a large group. */
  total: number
  hot: [key: string, count: number, large: boolean][]
}

const ADAPT_EVERY_MS = 1_000
/** Seconds of capacity a bucket may hold (how much a quiet spell lets through at once). */
export const BURST_SECONDS = 0.5

export class Overload {
  private readonly sketch: SpaceSaving
  private readonly large = new Map<string, boolean>()
  private tokens: number
  private capacityNow: number
  /** Event time the view is brought up to; undefined until the first record. */
  private at: number | undefined
  /** Wall-clock time of the last adaptation. */
  private adaptedAt: number | undefined
  private worstLatency: number | undefined
  /** The period's first and latest latency, and the latest of the period before. */
  private firstLatency: number | undefined
  private lastLatency: number | undefined
  private previousLast: number | undefined

  private readonly settings: OverloadSettings

  constructor(settings: OverloadSettings, now?: number) {
    this.settings = { ...settings }
    this.sketch = new SpaceSaving(settings.sketchSize)
    this.capacityNow = settings.max
    this.tokens = this.burst()
    this.at = now
    this.adaptedAt = now
  }

  /** The view to save; undefined before the first record. */
  state(): LoadState | undefined {
    if (this.at === undefined) return undefined
    const hot = this.sketch
      .top()
      .map((h): [string, number, boolean] => [h.key, h.count, this.large.get(h.key) ?? false])
    return { at: this.at, tokens: this.tokens, total: this.sketch.total(), hot }
  }

  /** Goes on from a saved view (or, with none, from scratch: the next record starts it). */
  restore(state: LoadState | undefined): void {
    this.large.clear()
    if (!state) {
      this.sketch.restore(0, [])
      this.tokens = this.burst()
      this.at = undefined
      return
    }
    this.sketch.restore(
      state.total,
      state.hot.map(([key, count]) => ({ key, count })),
    )
    for (const [key, , large] of state.hot) this.large.set(key, large)
    this.tokens = state.tokens
    this.at = state.at
  }

  /** The capacity in force (messages/s). */
  capacity(): number {
    return this.capacityNow
  }

  /** Changes the budget (the limits document was replaced). */
  setMax(max: number): void {
    if (max === this.settings.max) return
    this.settings.max = max
    this.capacityNow = this.settings.targetLatencyMs > 0 ? Math.min(this.capacityNow, max) : max
  }

  /**
   * Brings rates and tokens up to the event time `now`, and the adaptive capacity up to the
   * wall clock `wallNow` (the same clock where there is only one, as in tests).
   */
  advance(now: number, wallNow = now): void {
    this.adapt(wallNow)
    if (this.at === undefined) this.at = now
    const elapsed = now - this.at
    if (elapsed <= 0) return
    this.sketch.decay(0.5 ** (elapsed / this.settings.halfLifeMs))
    for (const key of this.large.keys()) if (!this.sketch.tracked(key)) this.large.delete(key)
    this.tokens = Math.min(this.burst(), this.tokens + (elapsed * this.capacityNow) / 1000)
    this.at = now
  }

  private adapt(wallNow: number): void {
    if (this.adaptedAt === undefined) this.adaptedAt = wallNow
    if (wallNow - this.adaptedAt < ADAPT_EVERY_MS) return
    // Catching up: the lag fell, since the period before or (the first period after a
    // restart, or after a quiet one) within this one.
    const since = this.previousLast ?? this.firstLatency
    const catchingUp =
      this.lastLatency !== undefined && since !== undefined && this.lastLatency < since
    this.capacityNow = adaptCapacity(this.capacityNow, this.worstLatency, this.settings, catchingUp)
    this.previousLast = this.lastLatency
    this.worstLatency = undefined
    this.firstLatency = undefined
    this.lastLatency = undefined
    this.adaptedAt = wallNow
  }

  /** A HIGH message offered (it passed validation and rate limits); latency: its wait on ingest. */
  offer(key: string, large: boolean, latencyMs: number): void {
    this.sketch.add(key)
    if (this.sketch.tracked(key)) this.large.set(key, large)
    this.worstLatency = Math.max(this.worstLatency ?? 0, latencyMs)
    this.firstLatency ??= latencyMs
    this.lastLatency = latencyMs
  }

  overloaded(): boolean {
    return this.tokens < 1
  }

  /** Under overload: should this conversation's message give way? */
  throttles(key: string, large: boolean): boolean {
    const perCount = Math.LN2 / (this.settings.halfLifeMs / 1000)
    const hot: HotConversation[] = this.sketch
      .top()
      .map((h) => ({ key: h.key, rate: h.count * perCount, large: this.large.get(h.key) ?? false }))
    return overShare(
      { capacity: this.capacityNow, totalRate: this.sketch.total() * perCount, hot },
      key,
      this.sketch.estimate(key) * perCount,
      large,
    )
  }

  /** HIGH admissions spend capacity; the debt is bounded so one spike is not paid for for long. */
  spend(n: number): void {
    this.tokens = Math.max(-this.burst(), this.tokens - n)
  }

  private burst(): number {
    return Math.max(1, this.capacityNow * BURST_SECONDS)
  }
}
