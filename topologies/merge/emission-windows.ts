// Emission windows: which messages of a conversation need a new read status or reaction
// summary, gathered per window and emitted once when the window closes. The totals
// themselves (cursors, reactions) are applied as records arrive; a window only decides when
// the changes go out, so a record too late for its window is never lost: it joins the window
// open now. Two sizes: large groups (default 1 minute) and small groups and 1:1 (200 ms).
//   key: the conversation id; one store per size class (windows close by start, per size).
// A window closes when the watermark — the newest record time or wall-clock time, whichever
// is later — passes its end plus the grace; wall-clock time closes the windows of a quiet
// partition too.

import { compareMsgIds } from '../../schemas/msg-id.js'
import {
  jsonSerde,
  type ReadWriteStore,
  stringSerde,
  type Window,
  WindowStore,
  windowsFor,
} from '../../state/index.js'

export interface PendingUpdates {
  /** Inclusive msgId intervals whose read counts changed, sorted, disjoint. */
  reads: [string, string][]
  /** Small groups only: who read in this window, and the range they newly read. */
  readers: Record<string, [string, string]>
  /** Messages whose reactions changed. */
  reactions: string[]
}

export interface ClosedWindow {
  conversationId: string
  large: boolean
  window: Window
  updates: PendingUpdates
}

export interface WindowSettings {
  smallMs: number
  largeMs: number
  graceMs: number
}

/** Past this many intervals the closest two are joined: the window's value stays small. */
const MAX_INTERVALS = 32

const next = (msgId: string) => (BigInt(msgId) + 1n).toString()

/** Adds [lo, hi] to sorted disjoint intervals, joining the ones it overlaps or touches. */
export function addInterval(
  intervals: [string, string][],
  lo: string,
  hi: string,
): [string, string][] {
  const out: [string, string][] = []
  let merged: [string, string] = [lo, hi]
  for (const iv of intervals) {
    if (compareMsgIds(next(iv[1]), merged[0]) < 0 || compareMsgIds(next(merged[1]), iv[0]) < 0) {
      out.push(iv)
    } else {
      merged = [
        compareMsgIds(iv[0], merged[0]) < 0 ? iv[0] : merged[0],
        compareMsgIds(iv[1], merged[1]) > 0 ? iv[1] : merged[1],
      ]
    }
  }
  out.push(merged)
  out.sort((a, b) => compareMsgIds(a[0], b[0]))
  while (out.length > MAX_INTERVALS) {
    let closest = 0
    let gap: bigint | undefined
    for (let i = 0; i + 1 < out.length; i++) {
      const g =
        BigInt((out[i + 1] as [string, string])[0]) - BigInt((out[i] as [string, string])[1])
      if (gap === undefined || g < gap) {
        gap = g
        closest = i
      }
    }
    const [a, b] = [out[closest] as [string, string], out[closest + 1] as [string, string]]
    out.splice(closest, 2, [a[0], b[1]])
  }
  return out
}

/** The first message a cursor move newly covers: the one after where it stood. */
export function newlyReadFrom(from: string | undefined): string {
  return from === undefined ? '0' : next(from)
}

export class EmissionWindows {
  private readonly small: WindowStore<string, PendingUpdates>
  private readonly large: WindowStore<string, PendingUpdates>
  private watermark = Number.NEGATIVE_INFINITY
  /**
   * When the next window closes, so the stores are scanned only then (not on every record);
   * undefined: unknown (after opening or a rollback), scan.
   */
  private nextClose: number | undefined

  constructor(
    stores: { small: ReadWriteStore; large: ReadWriteStore },
    private readonly settings: WindowSettings,
  ) {
    const values = jsonSerde<PendingUpdates>()
    this.small = new WindowStore(stores.small, stringSerde, values)
    this.large = new WindowStore(stores.large, stringSerde, values)
    // A rolled-back close puts its windows back: when they close is unknown again.
    for (const store of [stores.small, stores.large])
      store.onRollback(() => {
        this.nextClose = undefined
      })
  }

  /**
   * Records a change in the window of `timestamp` (or, when that one has closed, in the one
   * open now); true when it was late.
   */
  async mark(
    conversationId: string,
    large: boolean,
    timestamp: number,
    change: (updates: PendingUpdates) => void,
  ): Promise<boolean> {
    const sizeMs = large ? this.settings.largeMs : this.settings.smallMs
    const store = large ? this.large : this.small
    const [window] = windowsFor(timestamp, sizeMs) as [Window]
    const late = window.end + this.settings.graceMs <= this.watermark
    const start = late ? (windowsFor(this.watermark, sizeMs)[0] as Window).start : window.start
    const updates = (await store.get(start, conversationId)) ?? {
      reads: [],
      readers: {},
      reactions: [],
    }
    change(updates)
    store.put(start, conversationId, updates)
    const closes = start + sizeMs + this.settings.graceMs
    if (this.nextClose !== undefined && closes < this.nextClose) this.nextClose = closes
    return late
  }

  /** Moves the watermark to `now` (never back) and yields the windows that close, oldest first. */
  async *close(now: number): AsyncGenerator<ClosedWindow> {
    if (now > this.watermark) this.watermark = now
    if (this.nextClose !== undefined && this.watermark < this.nextClose) return
    const { graceMs } = this.settings
    let nextClose = Number.POSITIVE_INFINITY
    for (const [large, store, sizeMs] of [
      [false, this.small, this.settings.smallMs],
      [true, this.large, this.settings.largeMs],
    ] as const) {
      // Closes once the watermark reaches end + grace: start <= watermark - size - grace.
      for await (const entry of store.startingBefore(this.watermark - sizeMs - graceMs + 1)) {
        store.delete(entry.start, entry.key)
        yield {
          conversationId: entry.key,
          large,
          window: { start: entry.start, end: entry.start + sizeMs },
          updates: entry.value,
        }
      }
      // The oldest window left (deletes above are pending, so skip the ones just closed).
      for await (const entry of store.startingBefore(Number.MAX_SAFE_INTEGER)) {
        const closes = entry.start + sizeMs + graceMs
        if (closes <= this.watermark) continue
        nextClose = Math.min(nextClose, closes)
        break
      }
    }
    this.nextClose = nextClose
  }
}
